package kernels_test

import (
	"math"
	"sync"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
)

// visOps is ml/kernels/testdata/vision_ops.pth, written by
// scripts/fixtures/vision_ops.py with torch 1.13 / torchvision 0.14.
var visOps = sync.OnceValues(func() (checkpoint.StateDict, error) {
	return pytorch.Load("testdata/vision_ops.pth", nil)
})

func visFixture(t testing.TB, key string) *checkpoint.Array {
	t.Helper()
	sd, err := visOps()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := sd[key]
	if !ok {
		t.Fatalf("visFixture has no tensor %q", key)
	}
	return a
}

// visClose fails when got and want differ by more than tol relative to the
// largest magnitude of want (1e-4 is the fidelity bar).
func visClose(t testing.TB, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	scale = max(scale, 1e-6)
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i])-float64(want[i])) / scale
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: worst relative difference %.3g at %d (got %g, want %g), tolerance %g", name, worst, at, got[at], want[at], tol)
	}
}

package detect

import (
	"image"
	"math"
	"os"
	"sync"
	"testing"

	"mmc/memes"
	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
)

// expected is testdata/expected.pth, written with the models beside it by
// scripts/fixtures/detect.py (torch 1.13, torchvision 0.14).
var expected = sync.OnceValues(func() (checkpoint.StateDict, error) {
	return pytorch.Load("testdata/expected.pth", nil)
})

func want(t testing.TB, key string) *checkpoint.Array {
	t.Helper()
	sd, err := expected()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := sd[key]
	if !ok {
		t.Fatalf("expected.pth has no %q", key)
	}
	return a
}

func testImage(t testing.TB, name string) image.Image {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	img, err := memes.DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var testImages = []string{"a.png", "b.png"}

// closeTo fails when got and want differ by more than tol relative to the
// largest magnitude of want.
func closeTo(t testing.TB, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	scale = max(scale, 1e-6)
	worst, at := 0.0, 0
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

func asInts(a *checkpoint.Array) []int {
	out := make([]int, len(a.Data))
	for i, v := range a.Data {
		out[i] = int(v)
	}
	return out
}

package optim

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/internal/numtest"
	"mmc/ml/tensor"
)

// closeTo is numtest.CloseTo, the numeric packages' shared comparison.
var closeTo = numtest.CloseTo

// TestAdamWMatchesPyTorch replays the fixture's gradients through
// ClipGradNorm, AdamW and LinearWarmupDecay and compares every step.
func TestAdamWMatchesPyTorch(t *testing.T) {
	sd, meta, err := checkpoint.LoadSafetensors("testdata/adamw.safetensors")
	if err != nil {
		t.Fatalf("fixture (regenerate with python3 scripts/fixtures/numeric.py): %v", err)
	}
	steps, _ := strconv.Atoi(meta["steps"])
	warmup, _ := strconv.Atoi(meta["warmup"])
	w := tensor.New(append([]float32(nil), sd["w0"].Data...), sd["w0"].Shape...).SetRequiresGrad(true)
	b := tensor.New(append([]float32(nil), sd["b0"].Data...), sd["b0"].Shape...).SetRequiresGrad(true)
	groups := SplitDecay([]Named{{Name: "fc.weight", Tensor: w}, {Name: "fc.bias", Tensor: b}}, 0.01)
	if len(groups[0].Params) != 1 || groups[0].Params[0] != w || groups[1].Params[0] != b {
		t.Fatalf("SplitDecay put the bias in the decayed group: %+v", groups)
	}
	opt := NewAdamW(groups, AdamWConfig{LR: 1e-2, Schedule: LinearWarmupDecay(warmup, steps)})
	for s := 0; s < steps; s++ {
		p := fmt.Sprintf("step%d.", s)
		w.Grad = append([]float32(nil), sd[p+"gw"].Data...)
		b.Grad = append([]float32(nil), sd[p+"gb"].Data...)
		norm := ClipGradNorm(opt.Params(), 1.0)
		if err := closeTo([]float32{float32(norm)}, sd[p+"norm"].Data, 1e-6, 0); err != nil {
			t.Fatalf("step %d grad norm: %v", s, err)
		}
		if err := closeTo([]float32{float32(opt.LR())}, sd["lr"].Data[s:s+1], 1e-7, 0); err != nil {
			t.Fatalf("step %d lr: %v", s, err)
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		if err := closeTo(w.Data, sd[p+"w"].Data, 1e-5, 1e-7); err != nil {
			t.Fatalf("step %d weight: %v", s, err)
		}
		if err := closeTo(b.Data, sd[p+"b"].Data, 1e-5, 1e-7); err != nil {
			t.Fatalf("step %d bias: %v", s, err)
		}
	}
	st, _ := opt.StateDict()
	if err := closeTo(st["fc.weight.exp_avg_sq"].Data, sd["w.exp_avg_sq"].Data, 1e-5, 1e-12); err != nil {
		t.Fatalf("exp_avg_sq: %v", err)
	}
}

func TestStepRejectsNonFiniteGradient(t *testing.T) {
	a, b := tensor.Param(2), tensor.Param(2)
	opt := NewAdamW([]Group{{Names: []string{"a", "b"}, Params: []*tensor.Tensor{a, b}}}, AdamWConfig{LR: 1})
	a.Grad = []float32{1, 1}
	b.Grad = []float32{1, float32(math.Inf(1))}
	err := opt.Step()
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Param != "b" || nf.Step != 1 {
		t.Fatalf("got %v, want non-finite gradient in b at step 1", err)
	}
	if a.Data[0] != 0 || opt.Steps() != 0 {
		t.Fatal("a rejected step changed parameters")
	}
	if err := CheckLoss(3, float32(math.NaN())); err == nil || err.Error() != "step 3: non-finite loss" {
		t.Fatalf("CheckLoss: %v", err)
	}
}

func TestStateRoundTripResumesIdentically(t *testing.T) {
	run := func(opt *AdamW, p *tensor.Tensor, from, to int) {
		for s := from; s < to; s++ {
			p.Grad = []float32{float32(s) - 1.5, 0.5 * float32(s)}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := AdamWConfig{LR: 0.1, Schedule: WarmupCosine(2, 8, 0.5)}
	p1 := tensor.New([]float32{1, -1}, 2).SetRequiresGrad(true)
	o1 := NewAdamW([]Group{{Names: []string{"p"}, Params: []*tensor.Tensor{p1}, WeightDecay: 0.1}}, cfg)
	run(o1, p1, 0, 8)

	p2 := tensor.New([]float32{1, -1}, 2).SetRequiresGrad(true)
	o2 := NewAdamW([]Group{{Names: []string{"p"}, Params: []*tensor.Tensor{p2}, WeightDecay: 0.1}}, cfg)
	run(o2, p2, 0, 3)
	sd, meta := o2.StateDict()
	path := filepath.Join(t.TempDir(), "optim.safetensors")
	if err := checkpoint.SaveSafetensors(path, sd, meta); err != nil {
		t.Fatal(err)
	}
	sd, meta, err := checkpoint.LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	p3 := tensor.New(append([]float32(nil), p2.Data...), 2).SetRequiresGrad(true)
	o3 := NewAdamW([]Group{{Names: []string{"p"}, Params: []*tensor.Tensor{p3}, WeightDecay: 0.1}}, cfg)
	if err := o3.LoadStateDict(sd, meta); err != nil {
		t.Fatal(err)
	}
	run(o3, p3, 3, 8)
	if p3.Data[0] != p1.Data[0] || p3.Data[1] != p1.Data[1] {
		t.Fatalf("resumed run %v, uninterrupted %v", p3.Data, p1.Data)
	}
	sd["q.exp_avg"] = sd["p.exp_avg"]
	if err := o3.LoadStateDict(sd, meta); err == nil {
		t.Fatal("state for an unknown parameter loaded silently")
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		name string
		s    Schedule
		want []float64 // at steps 0..len-1
	}{
		{"constant", Constant(), []float64{1, 1, 1}},
		{"constant_warmup", ConstantWarmup(2), []float64{0, 0.5, 1, 1}},
		{"linear", LinearWarmupDecay(2, 6), []float64{0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0}},
		{"cosine", WarmupCosine(1, 3, 0.5), []float64{0, 1, 0.5, 0}},
	}
	for _, tc := range cases {
		for i, w := range tc.want {
			if got := tc.s(i); math.Abs(got-w) > 1e-12 {
				t.Errorf("%s(%d) = %v, want %v", tc.name, i, got, w)
			}
		}
	}
}

func TestClipAndAccumulation(t *testing.T) {
	p := tensor.Param(2)
	p.Grad = []float32{3, 4}
	if n := ClipGradNorm([]*tensor.Tensor{p}, 10); n != 5 || p.Grad[0] != 3 {
		t.Fatalf("norm %v below the limit changed grads %v", n, p.Grad)
	}
	ClipGradNorm([]*tensor.Tensor{p}, 1)
	if g := math.Hypot(float64(p.Grad[0]), float64(p.Grad[1])); math.Abs(g-1) > 1e-6 {
		t.Fatalf("clipped norm %v, want 1", g)
	}
	acc := Accumulation{Steps: 3}
	var ready []bool
	for i := 0; i < 6; i++ {
		ready = append(ready, acc.Ready())
	}
	if fmt.Sprint(ready) != "[false false true false false true]" || acc.LossScale() != float32(1)/3 {
		t.Fatalf("accumulation %v scale %v", ready, acc.LossScale())
	}
}

func TestNoDecay(t *testing.T) {
	for name, want := range map[string]bool{
		"bert.encoder.layer.0.attention.output.LayerNorm.weight": true,
		"bert.encoder.layer.0.attention.output.dense.bias":       true,
		"bert.encoder.layer.0.attention.output.dense.weight":     false,
		"classifier.1.weight": false,
		"v_layer_norm.weight": true,
	} {
		if NoDecay(name) != want {
			t.Errorf("NoDecay(%q) = %v", name, !want)
		}
	}
}

// TestInBackwardMatchesStep checks that updating parameters one at a time,
// in any order, gives Step's result bit for bit, and that misuse is an
// error that leaves the parameter alone.
func TestInBackwardMatchesStep(t *testing.T) {
	rng := tensor.NewRNG(3)
	mk := func() []Named {
		rng := tensor.NewRNG(5)
		var ps []Named
		for i, n := range []int{7, 70000, 3} {
			d := make([]float32, n)
			for j := range d {
				d[j] = rng.NormFloat32()
			}
			name := fmt.Sprintf("layer%d.weight", i)
			if i == 2 {
				name = "layer2.bias"
			}
			ps = append(ps, Named{Name: name, Tensor: tensor.New(d, n).SetRequiresGrad(true)})
		}
		return ps
	}
	a, b := mk(), mk()
	cfg := AdamWConfig{LR: 1e-2, Schedule: LinearWarmupDecay(1, 4)}
	whole, each := NewAdamW(SplitDecay(a, 0.01), cfg), NewAdamW(SplitDecay(b, 0.01), cfg)
	for s := 0; s < 3; s++ {
		for i := range a {
			g := make([]float32, len(a[i].Tensor.Data))
			for j := range g {
				g[j] = rng.NormFloat32()
			}
			a[i].Tensor.Grad = g
			b[i].Tensor.Grad = append([]float32(nil), g...)
		}
		if err := whole.Step(); err != nil {
			t.Fatal(err)
		}
		step := each.InBackward()
		for i := len(b) - 1; i >= 0; i-- {
			if err := step.Apply(b[i].Tensor); err != nil {
				t.Fatal(err)
			}
		}
		if err := step.Apply(b[0].Tensor); err == nil || !strings.Contains(err.Error(), "layer0.weight updated twice") {
			t.Fatalf("second update of a parameter: %v", err)
		}
		for i := range a {
			for j, v := range a[i].Tensor.Data {
				if b[i].Tensor.Data[j] != v {
					t.Fatalf("step %d %s[%d]: one at a time %v, Step %v", s, a[i].Name, j, b[i].Tensor.Data[j], v)
				}
			}
		}
	}
	if whole.Steps() != each.Steps() {
		t.Fatalf("steps %d and %d", whole.Steps(), each.Steps())
	}

	step := each.InBackward()
	if err := step.Apply(tensor.New([]float32{1}, 1)); err == nil || !strings.Contains(err.Error(), "not in the optimizer") {
		t.Fatalf("foreign parameter: %v", err)
	}
	p := b[0].Tensor
	before := append([]float32(nil), p.Data...)
	p.Grad[3] = float32(math.Inf(1))
	var nf *NonFiniteError
	if err := step.Apply(p); !errors.As(err, &nf) || nf.Param != "layer0.weight" {
		t.Fatalf("non-finite gradient: %v", err)
	}
	for j, v := range before {
		if p.Data[j] != v {
			t.Fatalf("non-finite gradient changed weight %d", j)
		}
	}
}

// TestApplyRowsMatchesApply updates one table [rows, width] from a
// gradient that is zero outside a few rows, densely through Apply and by
// rows through ApplyRows (across the zero-gradient chunk size, 1<<16
// values), and requires the same weights bit for bit.
func TestApplyRowsMatchesApply(t *testing.T) {
	const n, w = 300, 700
	mk := func() (*tensor.Tensor, *AdamW) {
		rng := tensor.NewRNG(8)
		d := make([]float32, n*w)
		for j := range d {
			d[j] = rng.NormFloat32()
		}
		p := tensor.New(d, n, w).SetRequiresGrad(true)
		return p, NewAdamW([]Group{{Params: []*tensor.Tensor{p}, Names: []string{"word"}, WeightDecay: 0.01}}, AdamWConfig{LR: 1e-2})
	}
	dense, optDense := mk()
	sparse, optSparse := mk()
	rng := tensor.NewRNG(9)
	for step, rows := range [][]int32{{0, 5, 6, 150, 299}, {3}, {}, {100, 200}} {
		g := make([]float32, len(rows)*w)
		for j := range g {
			g[j] = rng.NormFloat32()
		}
		dense.Grad = make([]float32, n*w)
		for i, r := range rows {
			copy(dense.Grad[int(r)*w:], g[i*w:(i+1)*w])
		}
		if err := optDense.InBackward().Apply(dense); err != nil {
			t.Fatal(err)
		}
		if err := optSparse.InBackward().ApplyRows(sparse, rows, g); err != nil {
			t.Fatal(err)
		}
		for j, v := range dense.Data {
			if sparse.Data[j] != v {
				t.Fatalf("step %d: value %d (row %d) is %v by rows, %v dense", step, j, j/w, sparse.Data[j], v)
			}
		}
	}
	step := optSparse.InBackward()
	if err := step.ApplyRows(sparse, []int32{4, 4}, make([]float32, 2*w)); err == nil || !strings.Contains(err.Error(), "not increasing") {
		t.Fatalf("repeated row: %v", err)
	}
	if err := step.ApplyRows(sparse, []int32{4}, make([]float32, w-1)); err == nil {
		t.Fatal("short gradient accepted")
	}
	bad := make([]float32, w)
	bad[2] = float32(math.NaN())
	var nf *NonFiniteError
	if err := step.ApplyRows(sparse, []int32{1}, bad); !errors.As(err, &nf) {
		t.Fatalf("NaN gradient: %v", err)
	}
	if err := step.ApplyRows(sparse, []int32{1}, make([]float32, w)); err != nil {
		t.Fatal(err)
	}
	if err := step.ApplyRows(sparse, []int32{1}, make([]float32, w)); err == nil || !strings.Contains(err.Error(), "updated twice") {
		t.Fatalf("second update: %v", err)
	}
}

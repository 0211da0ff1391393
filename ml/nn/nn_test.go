package nn

import (
	"math"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/internal/numtest"
	"mmc/ml/tensor"
)

// closeTo is numtest.CloseTo, the numeric packages' shared comparison.
var closeTo = numtest.CloseTo

// normRel is max|got−want| / max|want| (scale floored at 1e-3). The key
// bias is left out of the logged figure: its true gradient is zero
// (softmax ignores a shift shared by all keys), so both sides hold ~1e-9
// rounding noise there; the elementwise check still covers it.
func normRel(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff / math.Max(scale, 1e-3)
}

// fixtureLayer loads the PyTorch BertLayer fixture: the layer with its
// weights, and the fixture's tensors (x, mask, y, dy, grad.*).
func fixtureLayer(t *testing.T) (*BertLayer, checkpoint.StateDict) {
	t.Helper()
	sd, meta, err := checkpoint.LoadSafetensors("testdata/bertlayer.safetensors")
	if err != nil {
		t.Fatalf("fixture (regenerate with python3 scripts/fixtures/numeric.py): %v", err)
	}
	if meta["hidden"] != "16" || meta["heads"] != "4" {
		t.Fatalf("fixture metadata %v", meta)
	}
	layer := NewBertLayer(16, 4, 32, 0.02, tensor.NewRNG(1))
	params := checkpoint.StateDict{}
	for k, v := range sd {
		if name, ok := strings.CutPrefix(k, "param."); ok {
			params[name] = v
		}
	}
	if _, err := Load(layer, params, true); err != nil {
		t.Fatal(err)
	}
	return layer, sd
}

func TestBertLayerMatchesPyTorch(t *testing.T) {
	layer, sd := fixtureLayer(t)
	x := tensor.New(sd["x"].Data, sd["x"].Shape...).SetRequiresGrad(true)
	mask := tensor.New(sd["mask"].Data, sd["mask"].Shape...)
	y := layer.Op(x, mask, nil, false)
	if err := closeTo(y.Data, sd["y"].Data, 1e-4, 1e-5); err != nil {
		t.Fatalf("forward: %v", err)
	}
	y.BackwardWith(sd["dy"].Data)
	if err := closeTo(x.Grad, sd["grad.x"].Data, 1e-4, 1e-5); err != nil {
		t.Errorf("input gradient: %v", err)
	}
	worst := math.Max(normRel(y.Data, sd["y"].Data), normRel(x.Grad, sd["grad.x"].Data))
	for _, p := range Parameters(layer) {
		if err := closeTo(p.Tensor.Grad, sd["grad."+p.Name].Data, 1e-4, 1e-5); err != nil {
			t.Errorf("gradient of %s: %v", p.Name, err)
		}
		if p.Name != "attention.self.key.bias" { // true gradient 0: noise only
			worst = math.Max(worst, normRel(p.Tensor.Grad, sd["grad."+p.Name].Data))
		}
	}
	t.Logf("max normwise relative error over output and all gradients: %.2g", worst)
}

type block struct {
	Proj   *Linear    `pt:"proj"`
	Norm   *LayerNorm `pt:"norm"`
	Layers []*Linear  `pt:"layer"`
	Skip   *Linear    // no tag: not a parameter
	Inline struct {
		Emb *Embedding `pt:"emb"`
	} `pt:""`
}

func TestParametersWalkTags(t *testing.T) {
	rng := tensor.NewRNG(1)
	b := &block{Proj: NewLinear(2, 3, false, rng), Norm: NewLayerNorm(3, 1e-5),
		Layers: []*Linear{NewLinear(3, 3, true, rng), NewLinear(3, 1, true, rng)}, Skip: NewLinear(1, 1, true, rng)}
	b.Inline.Emb = NewEmbedding(4, 2, rng)
	var names []string
	for _, p := range Parameters(b) {
		names = append(names, p.Name)
	}
	want := "proj.weight norm.weight norm.bias layer.0.weight layer.0.bias layer.1.weight layer.1.bias emb.weight"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("names\n got %s\nwant %s", got, want)
	}
}

func TestLoadReportsMissingAndUnexpected(t *testing.T) {
	l := NewLinear(2, 2, true, tensor.NewRNG(1))
	sd := StateDict(l)
	sd["extra"] = &checkpoint.Array{Shape: []int{1}, Data: []float32{1}}
	if _, err := Load(l, sd, true); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("strict load with an extra key: %v", err)
	}
	if unused, err := Load(l, sd, false); err != nil || len(unused) != 1 {
		t.Fatalf("lenient load: unused %v, err %v", unused, err)
	}
	delete(sd, "bias")
	if _, err := Load(l, sd, false); err == nil || !strings.Contains(err.Error(), `"bias" missing`) {
		t.Fatalf("missing key: %v", err)
	}
	sd["bias"] = &checkpoint.Array{Shape: []int{3}, Data: []float32{1, 2, 3}}
	if _, err := Load(l, sd, false); err == nil || !strings.Contains(err.Error(), "shape [3]") {
		t.Fatalf("wrong shape: %v", err)
	}
}

// TestOpFirstMatchesOp checks the tape op of the first-position layer on
// the PyTorch fixture: its output against the first rows of the
// reference, and its gradients against Op's with dy given on the first
// rows only.
func TestOpFirstMatchesOp(t *testing.T) {
	layer, sd := fixtureLayer(t)
	shape := sd["x"].Shape
	b, n, d := shape[0], shape[1], shape[2]
	mask := tensor.New(sd["mask"].Data, sd["mask"].Shape...)
	grads := func(run func(x *tensor.Tensor) []float32) (out [][]float32) {
		x := tensor.New(append([]float32(nil), sd["x"].Data...), shape...).SetRequiresGrad(true)
		for _, p := range Parameters(layer) {
			p.Tensor.Grad = nil
		}
		out = append(out, run(x), x.Grad)
		for _, p := range Parameters(layer) {
			out = append(out, p.Tensor.Grad)
		}
		return out
	}
	dyFull, dyFirst := make([]float32, b*n*d), make([]float32, b*d)
	for i := range b {
		copy(dyFull[i*n*d:i*n*d+d], sd["dy"].Data[i*n*d:])
		copy(dyFirst[i*d:(i+1)*d], sd["dy"].Data[i*n*d:])
	}
	want := grads(func(x *tensor.Tensor) []float32 {
		y := layer.Op(x, mask, nil, false)
		y.BackwardWith(dyFull)
		return nil
	})
	got := grads(func(x *tensor.Tensor) []float32 {
		y := layer.OpFirst(x, mask, nil, false)
		if len(y.Shape) != 2 || y.Shape[0] != b || y.Shape[1] != d {
			t.Fatalf("OpFirst shape %v, want [%d %d]", y.Shape, b, d)
		}
		y.BackwardWith(dyFirst)
		return y.Data
	})
	for i := range b {
		if err := closeTo(got[0][i*d:(i+1)*d], sd["y"].Data[i*n*d:i*n*d+d], 1e-4, 1e-5); err != nil {
			t.Fatalf("item %d: output against PyTorch's first row: %v", i, err)
		}
	}
	for k := 1; k < len(want); k++ {
		if err := closeTo(got[k], want[k], 1e-5, 1e-6); err != nil {
			t.Errorf("gradient %d (0: input): %v", k-1, err)
		}
	}
}

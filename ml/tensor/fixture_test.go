package tensor

import (
	"math"
	"slices"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/internal/numtest"
)

func loadFixture(t *testing.T, path string) checkpoint.StateDict {
	t.Helper()
	sd, _, err := checkpoint.LoadSafetensors(path)
	if err != nil {
		t.Fatalf("fixture (regenerate with python3 scripts/fixtures/numeric.py): %v", err)
	}
	return sd
}

// closeTo is numtest.CloseTo, the numeric packages' shared comparison.
var closeTo = numtest.CloseTo

// normRel is max|got−want| / max|want|, the normwise relative error
// logged by the fixture tests.
func normRel(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func ints(a *checkpoint.Array) []int {
	out := make([]int, len(a.Data))
	for i, v := range a.Data {
		out[i] = int(v)
	}
	return out
}

func TestOpsMatchPyTorch(t *testing.T) {
	sd := loadFixture(t, "testdata/ops.safetensors")
	mask := func(c string) *Tensor { a := sd[c+".mask"]; return New(a.Data, a.Shape...) }
	cases := []struct {
		name   string
		inputs []string
		fn     func(c string, in []*Tensor) *Tensor
	}{
		{"matmul_nn", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, false) }},
		{"matmul_tn", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, false) }},
		{"matmul_nt", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, true) }},
		{"matmul_tt", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, true) }},
		{"matmul_shared", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, false) }},
		{"matmul_shared_nt", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], false, true) }},
		{"matmul_shared_tn", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, false) }},
		{"linear", []string{"x", "w", "b"}, func(_ string, in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) }},
		{"linear_gelu", []string{"x", "w", "b"}, func(_ string, in []*Tensor) *Tensor { return LinearGELU(in[0], in[1], in[2]) }},
		{"add", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return Add(in[0], in[1]) }},
		{"mul", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return Mul(in[0], in[1]) }},
		{"scale", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return Scale(in[0], 0.7) }},
		{"addbias", []string{"x", "b"}, func(_ string, in []*Tensor) *Tensor { return AddBias(in[0], in[1]) }},
		{"gelu", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return GELU(in[0]) }},
		{"relu", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return ReLU(in[0]) }},
		{"tanh", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return Tanh(in[0]) }},
		{"sigmoid", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return Sigmoid(in[0]) }},
		{"layernorm", []string{"x", "g", "b"}, func(_ string, in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-12) }},
		{"layernorm_eps", []string{"x", "g", "b"}, func(_ string, in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) }},
		{"softmax", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return Softmax(in[0]) }},
		{"masked_softmax", []string{"x"}, func(c string, in []*Tensor) *Tensor { return MaskedSoftmax(in[0], mask(c)) }},
		{"attention", []string{"q", "k", "v"}, func(c string, in []*Tensor) *Tensor {
			ctx, _ := Attention(in[0], in[1], in[2], mask(c), 0.1, nil, false)
			return ctx
		}},
		{"embedding", []string{"t"}, func(c string, in []*Tensor) *Tensor { return Embedding(in[0], ints(sd[c+".ids"]), 2, 3) }},
		{"concat", []string{"a", "b"}, func(_ string, in []*Tensor) *Tensor { return Concat(1, in[0], in[1]) }},
		{"slice", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return Slice(in[0], 2, 1, 4) }},
		{"select_first", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return SelectFirst(in[0]) }},
		{"masked_mean", []string{"x"}, func(c string, in []*Tensor) *Tensor { return MaskedMean(in[0], sd[c+".mask"].Data) }},
		{"split_heads", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return SplitHeads(in[0], 2) }},
		{"merge_heads", []string{"x"}, func(_ string, in []*Tensor) *Tensor { return MergeHeads(in[0]) }},
		{"cross_entropy", []string{"z"}, func(c string, in []*Tensor) *Tensor { return CrossEntropy(in[0], ints(sd[c+".labels"]), 0) }},
		{"cross_entropy_smooth", []string{"z"}, func(c string, in []*Tensor) *Tensor { return CrossEntropy(in[0], ints(sd[c+".labels"]), 0.1) }},
		{"focal", []string{"z"}, func(c string, in []*Tensor) *Tensor { return FocalLoss(in[0], ints(sd[c+".labels"]), 0.25, 2) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]*Tensor, len(tc.inputs))
			for i, name := range tc.inputs {
				a := sd[tc.name+"."+name]
				if a == nil {
					t.Fatalf("fixture lacks %s.%s", tc.name, name)
				}
				in[i] = New(append([]float32(nil), a.Data...), a.Shape...).SetRequiresGrad(true)
			}
			y := tc.fn(tc.name, in)
			want := sd[tc.name+".y"]
			if !slices.Equal(y.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", y.Shape, want.Shape)
			}
			if err := closeTo(y.Data, want.Data, 1e-5, 1e-6); err != nil {
				t.Fatalf("forward: %v", err)
			}
			worst := normRel(y.Data, want.Data)
			y.BackwardWith(sd[tc.name+".dy"].Data)
			for i, name := range tc.inputs {
				g := sd[tc.name+".grad_"+name]
				if err := closeTo(in[i].Grad, g.Data, 1e-5, 1e-6); err != nil {
					t.Errorf("gradient of %s: %v", name, err)
				}
				worst = math.Max(worst, normRel(in[i].Grad, g.Data))
			}
			t.Logf("max normwise relative error %.2g", worst)
		})
	}
}

package tensor

import (
	"math"
	"strings"
	"testing"
)

func randTensor(rng *RNG, scale float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = scale * rng.NormFloat32()
	}
	return t.SetRequiresGrad(true)
}

// checkGradients compares the analytic gradient of sum(f(inputs)·r) with
// central finite differences, evaluated in float64 around float32 inputs.
func checkGradients(t *testing.T, f func(in []*Tensor) *Tensor, inputs []*Tensor) {
	t.Helper()
	rng := NewRNG(99)
	y := f(inputs)
	r := make([]float32, len(y.Data))
	for i := range r {
		r[i] = rng.NormFloat32()
	}
	loss := func() float64 {
		var out *Tensor
		NoGrad(inputs, func() { out = f(inputs) })
		s := 0.0
		for i, v := range out.Data {
			s += float64(v) * float64(r[i])
		}
		return s
	}
	for _, in := range inputs {
		in.ZeroGrad()
	}
	y.BackwardWith(r)
	const h = 1e-2
	for k, in := range inputs {
		if !in.RequiresGrad() {
			continue
		}
		for i := range in.Data {
			old := in.Data[i]
			in.Data[i] = old + h
			up := loss()
			in.Data[i] = old - h
			down := loss()
			in.Data[i] = old
			num := (up - down) / (2 * h)
			got := float64(in.Grad[i])
			if math.Abs(num-got) > 2e-2*math.Max(1, math.Abs(num)) {
				t.Fatalf("input %d index %d: analytic %.6g, numeric %.6g", k, i, got, num)
			}
		}
	}
}

func TestFiniteDifferences(t *testing.T) {
	rng := NewRNG(7)
	mask := New([]float32{0, 0, -1e4, 0, 0, 0, 0, 0}, 2, 1, 1, 4)
	cases := []struct {
		name   string
		f      func(in []*Tensor) *Tensor
		inputs []*Tensor
	}{
		{"matmul_tt", func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], true, true) },
			[]*Tensor{randTensor(rng, 1, 2, 3, 4), randTensor(rng, 1, 2, 5, 3)}},
		{"linear_gelu", func(in []*Tensor) *Tensor { return LinearGELU(in[0], in[1], in[2]) },
			[]*Tensor{randTensor(rng, 1, 3, 4), randTensor(rng, 1, 5, 4), randTensor(rng, 1, 5)}},
		{"layernorm", func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) },
			[]*Tensor{randTensor(rng, 1, 3, 6), randTensor(rng, 1, 6), randTensor(rng, 1, 6)}},
		{"attention", func(in []*Tensor) *Tensor {
			ctx, _ := Attention(in[0], in[1], in[2], mask, 0, nil, false)
			return ctx
		}, []*Tensor{randTensor(rng, 1, 2, 2, 3, 4), randTensor(rng, 1, 2, 2, 4, 4), randTensor(rng, 1, 2, 2, 4, 4)}},
		{"dropout", func(in []*Tensor) *Tensor { return Dropout(in[0], 0.3, NewRNG(5), true) },
			[]*Tensor{randTensor(rng, 1, 4, 5)}},
		{"split_concat", func(in []*Tensor) *Tensor {
			p := Split(in[0], 1, 1, 2)
			return Concat(1, Mul(p[1], p[1]), Tanh(p[0]))
		}, []*Tensor{randTensor(rng, 1, 2, 3, 2)}},
		{"reshape_heads", func(in []*Tensor) *Tensor {
			return Reshape(MergeHeads(SplitHeads(Sigmoid(in[0]), 2)), -1)
		}, []*Tensor{randTensor(rng, 1, 2, 3, 4)}},
		{"masked_mean_select", func(in []*Tensor) *Tensor {
			return Add(MaskedMean(in[0], []float32{1, 0, 1, 1, 1, 0}), SelectFirst(in[0]))
		}, []*Tensor{randTensor(rng, 1, 2, 3, 2)}},
		{"focal", func(in []*Tensor) *Tensor { return FocalLoss(in[0], []int{1, 0, 2}, 0.5, 1.5) },
			[]*Tensor{randTensor(rng, 1, 3, 3)}},
		{"cross_entropy", func(in []*Tensor) *Tensor { return CrossEntropy(in[0], []int{1, IgnoreIndex, 2}, 0.2) },
			[]*Tensor{randTensor(rng, 1, 3, 3)}},
		{"embedding_relu_mean", func(in []*Tensor) *Tensor {
			return Mean(ReLU(AddBias(Embedding(in[0], []int{2, 0, 2}), in[1])))
		}, []*Tensor{randTensor(rng, 1, 3, 4), randTensor(rng, 1, 4)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkGradients(t, tc.f, tc.inputs) })
	}
}

func TestSharedInputAccumulates(t *testing.T) {
	x := New([]float32{1, 2, 3}, 3).SetRequiresGrad(true)
	// y = sum(x*x + x) → dy/dx = 2x + 1, reached through two paths.
	Sum(Add(Mul(x, x), x)).Backward()
	for i, want := range []float32{3, 5, 7} {
		if x.Grad[i] != want {
			t.Fatalf("grad %v, want [3 5 7]", x.Grad)
		}
	}
	// A second backward accumulates into the leaf.
	Sum(x).Backward()
	if x.Grad[0] != 4 {
		t.Fatalf("accumulated grad %v, want 4 first", x.Grad)
	}
}

func TestFrozenAndNoGradRecordNothing(t *testing.T) {
	w := New([]float32{1, 2, 3, 4}, 2, 2) // frozen: no gradient wanted
	x := New([]float32{1, 1}, 1, 2)
	y := Linear(x, w, nil)
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatal("op over frozen inputs recorded history")
	}
	p := Param(2, 2)
	other := Param(2, 2)
	NoGrad([]*Tensor{p}, func() {
		if z := Linear(x, p, nil); z.RequiresGrad() {
			t.Fatal("NoGrad block recorded history")
		}
		if z := Linear(x, other, nil); !z.RequiresGrad() {
			t.Fatal("NoGrad stopped recording for a parameter outside its scope")
		}
	})
	if !p.RequiresGrad() || Linear(x, p, nil).IsLeaf() {
		t.Fatal("NoGrad did not restore recording")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "does not require") {
			t.Fatalf("Backward on a frozen result: got %v", r)
		}
	}()
	Sum(y).Backward()
}

func TestBackwardFreesGraph(t *testing.T) {
	x := Param(2, 3)
	h := Tanh(x)
	y := Sum(h)
	y.Backward()
	if h.Grad != nil || !h.IsLeaf() {
		t.Fatal("intermediate result kept its gradient or history after Backward")
	}
	if x.Grad == nil {
		t.Fatal("leaf lost its gradient")
	}
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "already freed") {
			t.Fatalf("second Backward: panic %q", r)
		}
	}()
	y.Backward()
}

func TestDropoutReproducible(t *testing.T) {
	x := Full(1, 1000)
	a := Dropout(x, 0.25, NewRNG(3), true)
	b := Dropout(x, 0.25, NewRNG(3), true)
	zeros := 0
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatal("same seed gave different masks")
		}
		switch a.Data[i] {
		case 0:
			zeros++
		case 1 / 0.75:
		default:
			t.Fatalf("kept value %v, want 1/(1-p)", a.Data[i])
		}
	}
	if zeros < 200 || zeros > 300 {
		t.Fatalf("%d of 1000 dropped at p=0.25", zeros)
	}
	if Dropout(x, 0.25, nil, false) != x {
		t.Fatal("eval-mode dropout should be the identity")
	}
}

func TestShapeErrorsPanicWithNames(t *testing.T) {
	cases := []struct {
		name, want string
		fn         func()
	}{
		{"matmul", "inner sizes", func() { MatMul(Zeros(2, 3), Zeros(4, 5), false, false) }},
		{"linear", "does not end in", func() { Linear(Zeros(2, 3), Zeros(4, 5), nil) }},
		{"add", "differ", func() { Add(Zeros(2), Zeros(3)) }},
		{"embedding", "outside table", func() { Embedding(Zeros(3, 2), []int{3}) }},
		{"labels", "outside 2 classes", func() { CrossEntropy(Zeros(1, 2), []int{2}, 0) }},
		{"reshape", "cannot view", func() { Reshape(Zeros(6), 4, -1) }},
		{"split", "do not add up", func() { Split(Zeros(2, 5), 1, 2, 2) }},
		{"dropout rng", "needs an RNG", func() { Dropout(Zeros(2), 0.1, nil, true) }},
		{"mask", "one value per key", func() { MaskedSoftmax(Zeros(2, 3, 4), Zeros(2, 3)) }},
		{"matmul batch", "batch axes differ", func() { MatMul(Zeros(2, 3, 4), Zeros(3, 4, 5), false, false) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.Contains(s, tc.want) {
					t.Fatalf("panic %v, want one containing %q", r, tc.want)
				}
			}()
			tc.fn()
		})
	}
}

func TestMaskedSoftmaxAllMasked(t *testing.T) {
	x := New([]float32{1, 2}, 1, 2)
	m := New([]float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, 1, 2)
	y := MaskedSoftmax(x, m)
	if y.Data[0] != 0.5 || y.Data[1] != 0.5 {
		t.Fatalf("fully masked row gave %v, want uniform", y.Data)
	}
}

func TestParallelKernelsMatchSerial(t *testing.T) {
	// Large enough to split across goroutines; compare with a small-row
	// reference computed one row at a time.
	rng := NewRNG(11)
	x := randTensor(rng, 1, 300, 256)
	g, b := randTensor(rng, 1, 256), randTensor(rng, 1, 256)
	y := LayerNorm(x, g, b, 1e-5)
	for r := 0; r < 300; r += 37 {
		row := New(append([]float32(nil), x.Data[r*256:(r+1)*256]...), 1, 256)
		ref := LayerNorm(row, g, b, 1e-5)
		if err := closeTo(y.Data[r*256:(r+1)*256], ref.Data, 0, 0); err != nil {
			t.Fatalf("row %d: %v", r, err)
		}
	}
}

package vilbert

import (
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// The model is built from ml/nn's explicit-backward modules: they hold
// the parameters, and every activation a forward pass keeps for its
// backward pass lives in a Workspace (workspace.go).

// grow and zeroed size reusable buffers (nn.Grow, nn.Zeroed).
func grow(b *[]float32, n int) []float32   { return nn.Grow(b, n) }
func zeroed(b *[]float32, n int) []float32 { return nn.Zeroed(b, n) }

// paramMaker creates parameters. With alloc false it only records shapes,
// which lets ParamCount size the full model without a gigabyte of zeros.
type paramMaker struct {
	alloc bool
	rng   *tensor.RNG
	std   float32
}

func (pm *paramMaker) tensor(shape ...int) *tensor.Tensor {
	if !pm.alloc {
		return &tensor.Tensor{Shape: shape}
	}
	return tensor.Param(shape...)
}

// normal is a weight drawn from N(0, std²), as BERT's _init_weights does
// for Linear and Embedding weights.
func (pm *paramMaker) normal(shape ...int) *tensor.Tensor {
	t := pm.tensor(shape...)
	pm.draw(t)
	return t
}

// draw fills t from N(0, std²).
func (pm *paramMaker) draw(t *tensor.Tensor) {
	for i := range t.Data {
		t.Data[i] = pm.rng.NormFloat32() * pm.std
	}
}

func (pm *paramMaker) fill(v float32, shape ...int) *tensor.Tensor {
	t := pm.tensor(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

func newLinear(pm *paramMaker, in, out int) *nn.Linear {
	return &nn.Linear{Weight: pm.normal(out, in), Bias: pm.fill(0, out)}
}

// newQKV is three newLinear(pm, in, out) (the same draws in the same
// order) whose weights and biases lie side by side (nn.NewQKV), so the
// fused projection uses them without a packed copy.
func newQKV(pm *paramMaker, in, out int) (q, k, v *nn.Linear) {
	if !pm.alloc {
		return newLinear(pm, in, out), newLinear(pm, in, out), newLinear(pm, in, out)
	}
	return nn.NewQKV(in, out, pm.draw)
}

func newLayerNorm(pm *paramMaker, dim int, eps float32) *nn.LayerNorm {
	return &nn.LayerNorm{Weight: pm.fill(1, dim), Bias: pm.fill(0, dim), Eps: eps}
}

func newFFN(pm *paramMaker, hidden, inter int, drop, eps float32) nn.BertFFN {
	return nn.BertFFN{Intermediate: newLinear(pm, hidden, inter), Output: newLinear(pm, inter, hidden),
		LayerNorm: newLayerNorm(pm, hidden, eps), Dropout: drop}
}

// newLayer is one transformer block of either stream (BertLayer,
// BertImageLayer): self-attention then FFN.
func newLayer(pm *paramMaker, hidden, heads, inter int, attDrop, hidDrop, eps float32) *nn.BertLayer {
	q, k, v := newQKV(pm, hidden, hidden)
	return &nn.BertLayer{
		Attention: nn.BertSelfAttention{Query: q, Key: k,
			Value: v, Dense: newLinear(pm, hidden, hidden), LayerNorm: newLayerNorm(pm, hidden, eps),
			Heads: heads, AttnDropout: attDrop, Dropout: hidDrop},
		FFN: newFFN(pm, hidden, inter, hidDrop, eps),
	}
}

// transform is BertPredictionHeadTransform: LayerNorm(GELU(dense(x))).
type transform struct {
	Dense     *nn.Linear
	LayerNorm *nn.LayerNorm
}

// transformState is what a transform keeps: the GELU's pre-activation,
// the LayerNorm state and the output.
type transformState struct {
	h, y, dh, dx []float32
	ln           nn.LNState
}

func (f transform) forward(st *transformState, x []float32, rows int) []float32 {
	_, d := f.Dense.Dims()
	h := grow(&st.h, rows*d)
	f.Dense.Apply(h, x, rows)
	g := st.ln.Input(rows, d)
	nn.GELUInto(g, h)
	y := grow(&st.y, rows*d)
	f.LayerNorm.Normalize(y, &st.ln)
	return y
}

// backward returns the input gradient (in st) for dy on the output; x is
// the forward input.
func (f transform) backward(st *transformState, x, dy []float32, rows int, s *nn.GradSink) []float32 {
	in, _ := f.Dense.Dims()
	dh := grow(&st.dh, len(st.h))
	f.LayerNorm.Backprop(dh, dy, &st.ln, s)
	nn.GELUBackwardInto(dh, dh, st.h)
	dx := grow(&st.dx, rows*in)
	f.Dense.Backprop(dx, dh, x, rows, false, s)
	return dx
}

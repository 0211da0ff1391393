package nn

import (
	"fmt"

	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// BertSelfAttention is BERT's attention sublayer with Hugging Face / MMF
// key names under "attention":
//
//	y = LN(x + Dropout(MultiHead(x·Wq, x·Wk, x·Wv)·Wo))
//
// with an additive key mask and dropout on the attention weights. Heads
// are strided column blocks of the projections, never copied.
type BertSelfAttention struct {
	Query     *Linear    `pt:"self.query"`
	Key       *Linear    `pt:"self.key"`
	Value     *Linear    `pt:"self.value"`
	Dense     *Linear    `pt:"output.dense"`
	LayerNorm *LayerNorm `pt:"output.LayerNorm"`

	Heads       int
	AttnDropout float32 // attention_probs_dropout_prob
	Dropout     float32 // hidden_dropout_prob
	// KeepContext keeps the attention output for the backward pass
	// instead of computing it again there (see Attention.KeepContext).
	KeepContext bool
}

// AttnState is what BertSelfAttention keeps between its forward and
// backward passes.
type AttnState struct {
	Att  Attention
	x    []float32 // the input (the caller keeps it alive)
	qkv  []float32 // [rows, 3·hidden]: queries, keys and values side by side
	drop DropState
	ln   LNState
	// After forwardFirst: the input's positions per item, its first
	// positions [b, hidden], and qkv holds [b·n, 2·hidden] keys and
	// values, then [b, hidden] queries.
	first bool
	n     int
	x0    []float32
}

// AttnScratch holds BertSelfAttention's temporaries; layers run one at a
// time may share one.
type AttnScratch struct {
	Y, h, ds, dh, dqkv, dx, dctx []float32
	Att                          AttentionScratch
	QKV                          QKVScratch
}

// Forward maps x [b·l, hidden] with the additive key mask [b, l] (or
// nil) to the output, in sc.Y.
func (a *BertSelfAttention) Forward(st *AttnState, sc *AttnScratch, x []float32, b, l int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	_, d := a.Query.Dims()
	rows := b * l
	st.x, st.first = x, false
	qkv := Grow(&st.qkv, rows*3*d)
	a.qkv().Forward(&sc.QKV, qkv, x, rows)
	st.Att.KeepContext = a.KeepContext
	ctx := st.Att.Forward(&sc.Att, qkv, qkv[d:], qkv[2*d:], 3*d, 3*d, b, l, l, a.Heads, d, a.AttnDropout, mask, train, rng)
	return a.output(st, sc, ctx, x, rows, d, train, rng)
}

// output ends the sublayer on rows rows of the context: LN(res +
// Dropout(ctx·Wo)), in sc.Y.
func (a *BertSelfAttention) output(st *AttnState, sc *AttnScratch, ctx, res []float32, rows, d int, train bool, rng *tensor.RNG) []float32 {
	h := Grow(&sc.h, rows*d)
	a.Dense.Apply(h, ctx, rows)
	st.drop.ApplyAdd(st.ln.Input(rows, d), h, res, a.Dropout, train, rng) // the residual sum
	y := Grow(&sc.Y, rows*d)
	a.LayerNorm.Normalize(y, &st.ln)
	return y
}

// forwardFirst is Forward for the first position of each item only:
// every position still serves as a key and value, but the queries, the
// output projection and the LayerNorm run on b rows, and the output in
// sc.Y is [b, hidden], the first rows of Forward's.
func (a *BertSelfAttention) forwardFirst(st *AttnState, sc *AttnScratch, x []float32, b, n int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	in, d := a.Query.Dims()
	rows := b * n
	st.x, st.first, st.n = x, true, n
	w, bias, _, _ := a.qkv().pack(&sc.QKV)
	buf := Grow(&st.qkv, rows*2*d+b*d)
	kv, q := buf[:rows*2*d], buf[rows*2*d:]
	kernels.Linear(kv, x, w[d*in:], bias[d:], rows, in, 2*d)
	x0 := Grow(&st.x0, b*in)
	for i := range b {
		copy(x0[i*in:(i+1)*in], x[i*n*in:])
	}
	a.Query.Apply(q, x0, b)
	st.Att.KeepContext = a.KeepContext
	ctx := st.Att.Forward(&sc.Att, q, kv, kv[d:], d, 2*d, b, 1, n, a.Heads, d, a.AttnDropout, mask, train, rng)
	return a.output(st, sc, ctx, x0, b, d, train, rng)
}

// Recompute writes the last forward output into sc.Y again and returns
// it.
func (a *BertSelfAttention) Recompute(st *AttnState, sc *AttnScratch) []float32 {
	y := Grow(&sc.Y, len(st.ln.X))
	a.LayerNorm.Renormalize(y, &st.ln)
	return y
}

// Backward takes dy on the output and returns the input gradient (in
// sc.dx), or nil when needDx is false; parameter gradients go through s.
func (a *BertSelfAttention) Backward(st *AttnState, sc *AttnScratch, dy []float32, needDx bool, s *GradSink) []float32 {
	n := len(st.ln.X)
	rows := st.ln.rows
	ds := Grow(&sc.ds, n)
	a.LayerNorm.Backprop(ds, dy, &st.ln, s) // the gradient of the residual sum
	dh := Grow(&sc.dh, n)
	st.drop.BackpropInto(dh, ds, a.Dropout)
	dctx := Grow(&sc.dctx, n)
	a.Dense.Backprop(dctx, dh, st.Att.Context(&sc.Att), rows, false, s)
	return a.qkvBackward(st, sc, dctx, ds, needDx, s)
}

func (a *BertSelfAttention) qkvBackward(st *AttnState, sc *AttnScratch, dctx, ds []float32, needDx bool, s *GradSink) []float32 {
	if st.first {
		return a.firstBackward(st, sc, dctx, ds, needDx, s)
	}
	n, rows := len(st.ln.X), st.ln.rows
	d := n / rows
	dqkv := Grow(&sc.dqkv, 3*n)
	st.Att.Backward(&sc.Att, dqkv, dqkv[d:], dqkv[2*d:], dctx)
	if !needDx {
		a.qkv().Backward(&sc.QKV, nil, false, dqkv, st.x, rows, s)
		return nil
	}
	dx := Grow(&sc.dx, n)
	copy(dx, ds)
	a.qkv().Backward(&sc.QKV, dx, true, dqkv, st.x, rows, s)
	return dx
}

// firstBackward is qkvBackward after forwardFirst: ds [b, hidden] is the
// gradient of the first positions' residual sum, and the input gradient
// [b·n, hidden] comes from the keys and values at every position plus
// the queries and the residual at the first ones.
func (a *BertSelfAttention) firstBackward(st *AttnState, sc *AttnScratch, dctx, ds []float32, needDx bool, s *GradSink) []float32 {
	in, d := a.Query.Dims()
	b, n := st.ln.rows, st.n
	rows := b * n
	g := Grow(&sc.dqkv, rows*2*d+b*d)
	dkv, dq := g[:rows*2*d], g[rows*2*d:]
	st.Att.Backward(&sc.Att, dq, dkv, dkv[d:], dctx)
	q := a.qkv()
	var w, dx, dx0 []float32 // the input gradient's operands, only when needed
	if needDx {
		w, _, _, _ = q.pack(&sc.QKV)
		w = w[d*in:]
		dx, dx0 = Grow(&sc.dx, rows*in), ds // ds is spent: it takes the queries' share
	}
	fusedBackward(q[1:], w, dx, false, dkv, st.x, rows, s)
	a.Query.Backprop(dx0, dq, st.x0, b, needDx, s)
	if !needDx {
		return nil
	}
	for i := range b {
		AddInto(dx[i*n*in:i*n*in+in], ds[i*in:(i+1)*in])
	}
	return dx
}

func (a *BertSelfAttention) qkv() QKV { return QKV{a.Query, a.Key, a.Value} }

// BertFFN is the feed-forward sublayer y = LN(x + Dropout(GELU(x·W₁)·W₂))
// (BertIntermediate + BertOutput) with keys intermediate.dense,
// output.dense and output.LayerNorm.
type BertFFN struct {
	Intermediate *Linear    `pt:"intermediate.dense"`
	Output       *Linear    `pt:"output.dense"`
	LayerNorm    *LayerNorm `pt:"output.LayerNorm"`

	Dropout float32 // hidden_dropout_prob
}

// FFNState is what BertFFN keeps: the GELU's pre-activation, the dropout
// mask, the LayerNorm input and the output (which the next layer reads).
type FFNState struct {
	Y    []float32
	h    []float32
	drop DropState
	ln   LNState
}

// FFNScratch holds BertFFN's temporaries.
type FFNScratch struct {
	g, o, ds, do, dg, gd []float32
}

// Forward maps x [rows, hidden] to the output, in st.Y.
func (f *BertFFN) Forward(st *FFNState, sc *FFNScratch, x []float32, rows int, train bool, rng *tensor.RNG) []float32 {
	_, inter := f.Intermediate.Dims()
	_, d := f.Output.Dims()
	h, g := Grow(&st.h, rows*inter), Grow(&sc.g, rows*inter)
	f.Intermediate.product(h, x, rows)
	kernels.BiasGELU(g, h, f.Intermediate.Bias.Data, rows, inter) // h keeps the pre-activation
	o := Grow(&sc.o, rows*d)
	f.Output.Apply(o, g, rows)
	st.drop.ApplyAdd(st.ln.Input(rows, d), o, x, f.Dropout, train, rng) // the residual sum
	y := Grow(&st.Y, rows*d)
	f.LayerNorm.Normalize(y, &st.ln)
	return y
}

// Rebuild writes the output of the last Forward of st into st.Y again
// from the LayerNorm statistics it saved (bit-identical): for a caller
// that lets later layers reuse st.Y's memory and needs the output back
// for the backward pass of the layer that read it.
func (f *BertFFN) Rebuild(st *FFNState) { f.LayerNorm.Renormalize(st.Y, &st.ln) }

// Backward takes dy on the output and x, the input of the forward pass
// (the caller may have rebuilt it), and returns the input gradient in
// scratch.
func (f *BertFFN) Backward(st *FFNState, sc *FFNScratch, x, dy []float32, s *GradSink) []float32 {
	rows := st.ln.rows
	n := len(st.ln.X)
	ds := Grow(&sc.ds, n)
	f.LayerNorm.Backprop(ds, dy, &st.ln, s)
	do := Grow(&sc.do, n)
	st.drop.BackpropInto(do, ds, f.Dropout)
	// The GELU output was not kept: recompute it with its derivative gd.
	g, gd := Grow(&sc.g, len(st.h)), Grow(&sc.gd, len(st.h))
	kernels.GELUWithGrad(g, gd, st.h)
	dg := Grow(&sc.dg, len(st.h))
	f.Output.Backprop(dg, do, g, rows, false, s)
	kernels.Mul(dg, dg, gd)
	f.Intermediate.Backprop(ds, dg, x, rows, true, s) // dx = ds + dh·W₁
	return ds
}

// product writes x·Wᵀ without the bias.
func (l *Linear) product(y, x []float32, rows int) {
	in, out := l.Dims()
	kernels.Linear(y, x, l.Weight.Data, nil, rows, in, out)
}

// BertLayer is one post-LayerNorm transformer encoder layer of BERT, with
// Hugging Face / MMF key names relative to "encoder.layer.N": the
// attention sublayer, then the feed-forward one.
type BertLayer struct {
	Attention BertSelfAttention `pt:"attention"`
	FFN       BertFFN           `pt:""`
}

// LayerState is one BertLayer call's saved activations.
type LayerState struct {
	Attn AttnState
	FFN  FFNState
}

// LayerScratch is the temporaries of BertLayers run one at a time.
type LayerScratch struct {
	Attn AttnScratch
	FFN  FFNScratch
}

// NewBertLayer returns a layer initialised as BERT does: weights
// N(0, std²), biases 0, LayerNorm weight 1, eps 1e-12, dropout 0.1.
func NewBertLayer(hidden, heads, intermediate int, std float32, rng *tensor.RNG) *BertLayer {
	if heads <= 0 || hidden%heads != 0 {
		panic(fmt.Sprintf("nn.NewBertLayer: hidden size %d does not split into %d heads", hidden, heads))
	}
	lin := func(in, out int) *Linear {
		l := &Linear{Weight: tensor.Param(out, in), Bias: tensor.Param(out)}
		Normal(l.Weight, std, rng)
		return l
	}
	q, k, v := NewQKV(hidden, hidden, func(w *tensor.Tensor) { Normal(w, std, rng) })
	return &BertLayer{
		Attention: BertSelfAttention{Query: q, Key: k, Value: v,
			Dense: lin(hidden, hidden), LayerNorm: NewLayerNorm(hidden, 1e-12), Heads: heads, AttnDropout: 0.1, Dropout: 0.1,
			KeepContext: true},
		FFN: BertFFN{Intermediate: lin(hidden, intermediate), Output: lin(intermediate, hidden),
			LayerNorm: NewLayerNorm(hidden, 1e-12), Dropout: 0.1},
	}
}

// Forward maps x [b·l, hidden] with the additive key mask [b, l] (or nil)
// to the output, in st.FFN.Y.
func (l *BertLayer) Forward(st *LayerState, sc *LayerScratch, x []float32, b, n int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	a := l.Attention.Forward(&st.Attn, &sc.Attn, x, b, n, mask, train, rng)
	return l.FFN.Forward(&st.FFN, &sc.FFN, a, b*n, train, rng)
}

// ForwardFirst is Forward computing only the first position of each
// item (what a pooler reads), in st.FFN.Y as [b, hidden]: the same
// values as the first rows of Forward's, with every position still a key
// and a value. Past the keys' and values' products, the layer runs on b
// rows instead of b·n. Backward then takes dy [b, hidden] and returns the
// input gradient for every position.
func (l *BertLayer) ForwardFirst(st *LayerState, sc *LayerScratch, x []float32, b, n int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	a := l.Attention.forwardFirst(&st.Attn, &sc.Attn, x, b, n, mask, train, rng)
	return l.FFN.Forward(&st.FFN, &sc.FFN, a, b, train, rng)
}

// Backward returns the input gradient for dy (in sc), or nil when needDx
// is false; parameter gradients go through s.
func (l *BertLayer) Backward(st *LayerState, sc *LayerScratch, dy []float32, needDx bool, s *GradSink) []float32 {
	a := l.Attention.Recompute(&st.Attn, &sc.Attn) // the FFN's input, not kept
	d := l.FFN.Backward(&st.FFN, &sc.FFN, a, dy, s)
	return l.Attention.Backward(&st.Attn, &sc.Attn, d, needDx, s)
}

// Op is Forward as one tape op of ml/tensor: x is [B, T, hidden], mask
// the additive key mask ([B, 1, 1, T] or [B, T]) or nil. Its backward
// pass runs Backward and accumulates the parameters' gradients in their
// Grad.
func (l *BertLayer) Op(x, mask *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	return l.op(x, mask, rng, train, false)
}

// OpFirst is ForwardFirst as one tape op: the first position of each
// item, [B, hidden], for a last layer whose other positions nothing
// reads.
func (l *BertLayer) OpFirst(x, mask *tensor.Tensor, rng *tensor.RNG, train bool) *tensor.Tensor {
	return l.op(x, mask, rng, train, true)
}

func (l *BertLayer) op(x, mask *tensor.Tensor, rng *tensor.RNG, train, first bool) *tensor.Tensor {
	if x.Dim() != 3 {
		panic(fmt.Sprintf("nn.BertLayer.Op: input %v is not [B, T, hidden]", x.Shape))
	}
	b, t := x.Shape[0], x.Shape[1]
	var m []float32
	if mask != nil {
		m = mask.Data
	}
	st, sc := new(LayerState), new(LayerScratch)
	var out *tensor.Tensor
	if first {
		y := l.ForwardFirst(st, sc, x.Data, b, t, m, train, rng)
		out = tensor.New(append([]float32(nil), y...), b, x.Shape[2])
	} else {
		y := l.Forward(st, sc, x.Data, b, t, m, train, rng)
		out = tensor.New(append([]float32(nil), y...), x.Shape...)
	}
	parents := append([]*tensor.Tensor{x}, paramTensors(l)...)
	return tensor.Custom(out, func(dy []float32) {
		dx := l.Backward(st, sc, dy, x.RequiresGrad(), nil)
		if dx != nil {
			x.AccumulateGrad(append([]float32(nil), dx...))
		}
	}, parents...)
}

func paramTensors(module any) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for _, p := range Parameters(module) {
		ts = append(ts, p.Tensor)
	}
	return ts
}

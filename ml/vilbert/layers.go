package vilbert

import "mmc/ml/tensor"

// SelfAttention is BertAttention / BertImageAttention:
// LayerNorm(dropout(dense(MultiHead(xWq, xWk, xWv))) + x).
type SelfAttention struct {
	Query     Linear    `pt:"self.query"`
	Key       Linear    `pt:"self.key"`
	Value     Linear    `pt:"self.value"`
	Dense     Linear    `pt:"output.dense"`
	LayerNorm LayerNorm `pt:"output.LayerNorm"`

	att         attention
	drop        dropout
	sum, dh, dx *[]float32
	rows        int
	hidden      int
}

func newSelfAttention(pm *paramMaker, hidden, heads int, attDrop, hidDrop, eps float32) SelfAttention {
	return SelfAttention{
		Query: newLinear(pm, hidden, hidden), Key: newLinear(pm, hidden, hidden), Value: newLinear(pm, hidden, hidden),
		Dense: newLinear(pm, hidden, hidden), LayerNorm: newLayerNorm(pm, hidden, eps),
		att:  attention{heads: heads, hd: hidden / heads, drop: dropout{p: attDrop}},
		drop: dropout{p: hidDrop}, hidden: hidden,
	}
}

// Forward maps x [B·L, hidden] with the additive key mask [B, L].
func (a *SelfAttention) Forward(x []float32, b, l int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	rows := b * l
	a.rows = rows
	q := a.Query.Forward(x, rows) // [B·L, hidden], heads are column blocks
	k := a.Key.Forward(x, rows)
	v := a.Value.Forward(x, rows)
	ctx := a.att.Forward(q, k, v, b, l, l, mask, train, rng) // softmax(QKᵀ/√d + mask)·V
	h := a.Dense.Forward(ctx, rows)
	a.drop.apply(h, train, rng)
	return a.LayerNorm.Forward(add(&a.sum, h, x), rows)
}

// Backward returns the gradient for x, or nil when needDx is false (the
// stream below is frozen).
func (a *SelfAttention) Backward(dy []float32, needDx bool) []float32 {
	ds := a.LayerNorm.Backward(dy) // gradient of the residual sum
	dh := grow(slot(&a.dh), len(ds))
	copy(dh, ds)
	a.drop.backward(dh)
	a.Dense.x = a.att.RecomputeContext() // the context was not kept
	dctx := a.Dense.Backward(dh, true)
	dq, dk, dv := a.att.Backward(dctx)
	if !needDx {
		a.Query.Backward(dq, false)
		a.Key.Backward(dk, false)
		a.Value.Backward(dv, false)
		return nil
	}
	dx := grow(slot(&a.dx), len(ds))
	copy(dx, ds)
	a.Query.BackwardInto(dq, dx)
	a.Key.BackwardInto(dk, dx)
	a.Value.BackwardInto(dv, dx)
	return dx
}

// FFN is the feed-forward sublayer LayerNorm(dropout(W₂·gelu(W₁x)) + x)
// (BertIntermediate + BertOutput). Its keys are intermediate.dense,
// output.dense and output.LayerNorm under the owner's prefix.
type FFN struct {
	Intermediate Linear    `pt:"intermediate.dense"`
	Output       Linear    `pt:"output.dense"`
	LayerNorm    LayerNorm `pt:"output.LayerNorm"`

	act         gelu
	drop        dropout
	in          *LayerNorm // the norm whose output this FFN reads (rebuilt for backward)
	rows        int
	sum, do, dx *[]float32
}

func newFFN(pm *paramMaker, hidden, inter int, drop, eps float32) FFN {
	return FFN{Intermediate: newLinear(pm, hidden, inter), Output: newLinear(pm, inter, hidden),
		LayerNorm: newLayerNorm(pm, hidden, eps), drop: dropout{p: drop}}
}

// Forward maps x [rows, hidden].
func (f *FFN) Forward(x []float32, rows int, train bool, rng *tensor.RNG) []float32 {
	f.rows = rows
	h := f.act.Forward(f.Intermediate.Forward(x, rows)) // [rows, inter]
	o := f.Output.Forward(h, rows)                      // [rows, hidden]
	f.drop.apply(o, train, rng)
	return f.LayerNorm.Forward(add(&f.sum, o, x), rows)
}

// Backward returns the gradient for x.
func (f *FFN) Backward(dy []float32) []float32 {
	ds := f.LayerNorm.Backward(dy)
	do := grow(slot(&f.do), len(ds))
	copy(do, ds)
	f.drop.backward(do)
	f.Output.x = f.act.Recompute() // the GELU output was not kept
	dh := f.act.Backward(f.Output.Backward(do, true))
	dx := grow(slot(&f.dx), len(ds))
	copy(dx, ds)
	if f.in != nil {
		f.Intermediate.x = f.in.Recompute() // the input was not kept
	}
	f.Intermediate.BackwardInto(dh, dx)
	return dx
}

// Layer is one transformer block of either stream (BertLayer,
// BertImageLayer): self-attention then FFN.
type Layer struct {
	Attention SelfAttention `pt:"attention"`
	FFN       FFN           `pt:""`
}

func newLayer(pm *paramMaker, hidden, heads, inter int, attDrop, hidDrop, eps float32) *Layer {
	l := &Layer{Attention: newSelfAttention(pm, hidden, heads, attDrop, hidDrop, eps),
		FFN: newFFN(pm, hidden, inter, hidDrop, eps)}
	l.FFN.in = &l.Attention.LayerNorm
	return l
}

// Forward maps x [B·L, hidden].
func (l *Layer) Forward(x []float32, b, n int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	a := l.Attention.Forward(x, b, n, mask, train, rng)
	return l.FFN.Forward(a, b*n, train, rng)
}

// Backward returns the gradient for x, or nil when needDx is false.
func (l *Layer) Backward(dy []float32, needDx bool) []float32 {
	return l.Attention.Backward(l.FFN.Backward(dy), needDx)
}

// BiAttention is BertBiAttention: text queries attend over regions
// (image mask) and region queries over tokens (text mask), 8×128 heads at
// full size.
type BiAttention struct {
	Query1 Linear `pt:"query1"` // visual → bi
	Key1   Linear `pt:"key1"`
	Value1 Linear `pt:"value1"`
	Query2 Linear `pt:"query2"` // text → bi
	Key2   Linear `pt:"key2"`
	Value2 Linear `pt:"value2"`

	att1, att2 attention // att1: text over regions; att2: regions over text
	dimg, dtxt *[]float32
}

// Forward returns context1 [B·T, bi] (text queries) and context2 [B·R,
// bi] (region queries).
func (a *BiAttention) Forward(img []float32, imgMask []float32, txt []float32, txtMask []float32, b, r, t int, train bool, rng *tensor.RNG) (ctx1, ctx2 []float32) {
	q1, k1, v1 := a.Query1.Forward(img, b*r), a.Key1.Forward(img, b*r), a.Value1.Forward(img, b*r)
	q2, k2, v2 := a.Query2.Forward(txt, b*t), a.Key2.Forward(txt, b*t), a.Value2.Forward(txt, b*t)
	ctx1 = a.att1.Forward(q2, k1, v1, b, t, r, imgMask, train, rng) // [B·T, bi]
	ctx2 = a.att2.Forward(q1, k2, v2, b, r, t, txtMask, train, rng) // [B·R, bi]
	return ctx1, ctx2
}

// Backward returns the gradients for img and txt.
func (a *BiAttention) Backward(dctx1, dctx2 []float32) (dimg, dtxt []float32) {
	dq2, dk1, dv1 := a.att1.Backward(dctx1)
	dq1, dk2, dv2 := a.att2.Backward(dctx2)
	dimg = zeroed(slot(&a.dimg), a.Query1.rows*a.Query1.in)
	a.Query1.BackwardInto(dq1, dimg)
	a.Key1.BackwardInto(dk1, dimg)
	a.Value1.BackwardInto(dv1, dimg)
	dtxt = zeroed(slot(&a.dtxt), a.Query2.rows*a.Query2.in)
	a.Query2.BackwardInto(dq2, dtxt)
	a.Key2.BackwardInto(dk2, dtxt)
	a.Value2.BackwardInto(dv2, dtxt)
	return dimg, dtxt
}

// BiOutput is BertBiOutput. q_dense1/q_dense2 exist in every checkpoint
// (and in the parameter count) but MMF's forward never uses them.
type BiOutput struct {
	Dense1     Linear    `pt:"dense1"`
	LayerNorm1 LayerNorm `pt:"LayerNorm1"`
	QDense1    Linear    `pt:"q_dense1"`
	Dense2     Linear    `pt:"dense2"`
	LayerNorm2 LayerNorm `pt:"LayerNorm2"`
	QDense2    Linear    `pt:"q_dense2"`

	drop1, drop2       dropout
	sum1, sum2, d1, d2 *[]float32
}

// ConnectionLayer is BertConnectionLayer: bi-attention, the two residual
// outputs, then each stream's FFN.
type ConnectionLayer struct {
	BiAttention BiAttention `pt:"biattention"`
	BiOutput    BiOutput    `pt:"biOutput"`
	V           FFN         `pt:"v_"` // v_intermediate, v_output
	T           FFN         `pt:"t_"` // t_intermediate, t_output

	b, r, t int
}

func newConnectionLayer(pm *paramMaker, c *Config) *ConnectionLayer {
	bi, vh, th := c.BiHiddenSize, c.VHiddenSize, c.HiddenSize
	eps := c.LayerNormEps
	c2 := &ConnectionLayer{
		BiAttention: BiAttention{
			Query1: newLinear(pm, vh, bi), Key1: newLinear(pm, vh, bi), Value1: newLinear(pm, vh, bi),
			Query2: newLinear(pm, th, bi), Key2: newLinear(pm, th, bi), Value2: newLinear(pm, th, bi),
			att1: attention{heads: c.BiNumAttentionHeads, hd: bi / c.BiNumAttentionHeads, drop: dropout{p: c.VAttentionDropout}},
			att2: attention{heads: c.BiNumAttentionHeads, hd: bi / c.BiNumAttentionHeads, drop: dropout{p: c.AttentionDropout}},
		},
		BiOutput: BiOutput{
			Dense1: newLinear(pm, bi, vh), LayerNorm1: newLayerNorm(pm, vh, eps), QDense1: newLinear(pm, bi, vh),
			Dense2: newLinear(pm, bi, th), LayerNorm2: newLayerNorm(pm, th, eps), QDense2: newLinear(pm, bi, th),
			drop1: dropout{p: c.VHiddenDropout}, drop2: dropout{p: c.HiddenDropout},
		},
		V: newFFN(pm, vh, c.VIntermediateSize, c.VHiddenDropout, eps),
		T: newFFN(pm, th, c.IntermediateSize, c.HiddenDropout, eps),
	}
	c2.V.in, c2.T.in = &c2.BiOutput.LayerNorm1, &c2.BiOutput.LayerNorm2
	return c2
}

// Forward exchanges information between img [B·R, Dv] and txt [B·T, Dt].
func (c *ConnectionLayer) Forward(img, imgMask, txt, txtMask []float32, b, r, t int, train bool, rng *tensor.RNG) (imgOut, txtOut []float32) {
	c.b, c.r, c.t = b, r, t
	o := &c.BiOutput
	ctx1, ctx2 := c.BiAttention.Forward(img, imgMask, txt, txtMask, b, r, t, train, rng)
	// The visual stream takes the region-query context, the text stream
	// the text-query context.
	h1 := o.Dense1.Forward(ctx2, b*r)
	o.drop1.apply(h1, train, rng)
	att1 := o.LayerNorm1.Forward(add(&o.sum1, h1, img), b*r)
	h2 := o.Dense2.Forward(ctx1, b*t)
	o.drop2.apply(h2, train, rng)
	att2 := o.LayerNorm2.Forward(add(&o.sum2, h2, txt), b*t)
	return c.V.Forward(att1, b*r, train, rng), c.T.Forward(att2, b*t, train, rng)
}

// Backward returns the gradients for the img and txt inputs.
func (c *ConnectionLayer) Backward(dimg, dtxt []float32) (dimgIn, dtxtIn []float32) {
	o := &c.BiOutput
	ds1 := o.LayerNorm1.Backward(c.V.Backward(dimg))
	d1 := grow(slot(&o.d1), len(ds1))
	copy(d1, ds1)
	o.drop1.backward(d1)
	o.Dense1.x = c.BiAttention.att2.RecomputeContext()
	dctx2 := o.Dense1.Backward(d1, true)
	ds2 := o.LayerNorm2.Backward(c.T.Backward(dtxt))
	d2 := grow(slot(&o.d2), len(ds2))
	copy(d2, ds2)
	o.drop2.backward(d2)
	o.Dense2.x = c.BiAttention.att1.RecomputeContext()
	dctx1 := o.Dense2.Backward(d2, true)
	dimgIn, dtxtIn = c.BiAttention.Backward(dctx1, dctx2)
	addInto(dimgIn, ds1)
	addInto(dtxtIn, ds2)
	return dimgIn, dtxtIn
}

package vilbert

import (
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// Layer is one transformer block of either stream (BertLayer,
// BertImageLayer): ml/nn's BertLayer, the module TextBERT uses too.
type Layer = nn.BertLayer

// BiAttention is BertBiAttention: text queries attend over regions
// (image mask) and region queries over tokens (text mask), 8×128 heads at
// full size.
type BiAttention struct {
	Query1 *nn.Linear `pt:"query1"` // visual → bi
	Key1   *nn.Linear `pt:"key1"`
	Value1 *nn.Linear `pt:"value1"`
	Query2 *nn.Linear `pt:"query2"` // text → bi
	Key2   *nn.Linear `pt:"key2"`
	Value2 *nn.Linear `pt:"value2"`

	heads        int
	drop1, drop2 float32 // att1 (text over regions), att2 (regions over text)
}

func (a *BiAttention) img() nn.QKV { return nn.QKV{a.Query1, a.Key1, a.Value1} }
func (a *BiAttention) txt() nn.QKV { return nn.QKV{a.Query2, a.Key2, a.Value2} }

// BiOutput is BertBiOutput. q_dense1/q_dense2 exist in every checkpoint
// (and in the parameter count) but MMF's forward never uses them.
type BiOutput struct {
	Dense1     *nn.Linear    `pt:"dense1"`
	LayerNorm1 *nn.LayerNorm `pt:"LayerNorm1"`
	QDense1    *nn.Linear    `pt:"q_dense1"`
	Dense2     *nn.Linear    `pt:"dense2"`
	LayerNorm2 *nn.LayerNorm `pt:"LayerNorm2"`
	QDense2    *nn.Linear    `pt:"q_dense2"`

	drop1, drop2 float32
}

// ConnectionLayer is BertConnectionLayer: bi-attention, the two residual
// outputs, then each stream's FFN.
type ConnectionLayer struct {
	BiAttention BiAttention `pt:"biattention"`
	BiOutput    BiOutput    `pt:"biOutput"`
	V           nn.BertFFN  `pt:"v_"` // v_intermediate, v_output
	T           nn.BertFFN  `pt:"t_"` // t_intermediate, t_output
}

// connState is what one connection layer keeps between its passes.
type connState struct {
	img, txt     []float32 // inputs (kept alive by the caller)
	b, r, t      int
	qkv1, qkv2   []float32 // fused projections of img [B·R, 3·bi] and txt [B·T, 3·bi]
	att1, att2   nn.Attention
	drop1, drop2 nn.DropState
	ln1, ln2     nn.LNState
	V, T         nn.FFNState
}

// connScratch holds the temporaries of connection layers run one at a
// time.
type connScratch struct {
	a1, a2           nn.AttentionScratch
	p1, p2           nn.QKVScratch
	h1, h2, y1, y2   []float32
	ds1, ds2, d1, d2 []float32
	dctx1, dctx2     []float32
	dqkv1, dqkv2     []float32
	dimg, dtxt       []float32
}

func newConnectionLayer(pm *paramMaker, c *Config) *ConnectionLayer {
	bi, vh, th := c.BiHiddenSize, c.VHiddenSize, c.HiddenSize
	eps := c.LayerNormEps
	q1, k1, v1 := newQKV(pm, vh, bi)
	q2, k2, v2 := newQKV(pm, th, bi)
	return &ConnectionLayer{
		BiAttention: BiAttention{
			Query1: q1, Key1: k1, Value1: v1,
			Query2: q2, Key2: k2, Value2: v2,
			heads: c.BiNumAttentionHeads, drop1: c.VAttentionDropout, drop2: c.AttentionDropout,
		},
		BiOutput: BiOutput{
			Dense1: newLinear(pm, bi, vh), LayerNorm1: newLayerNorm(pm, vh, eps), QDense1: newLinear(pm, bi, vh),
			Dense2: newLinear(pm, bi, th), LayerNorm2: newLayerNorm(pm, th, eps), QDense2: newLinear(pm, bi, th),
			drop1: c.VHiddenDropout, drop2: c.HiddenDropout,
		},
		V: newFFN(pm, vh, c.VIntermediateSize, c.VHiddenDropout, eps),
		T: newFFN(pm, th, c.IntermediateSize, c.HiddenDropout, eps),
	}
}

// Forward exchanges information between img [B·R, Dv] and txt [B·T, Dt].
// The outputs live in st; vis and txt are the FFN scratches of the two
// streams.
func (c *ConnectionLayer) Forward(st *connState, sc *connScratch, vis, txtSc *nn.FFNScratch, img, imgMask, txt, txtMask []float32, b, r, t int, train bool, rng *tensor.RNG) (imgOut, txtOut []float32) {
	st.img, st.txt, st.b, st.r, st.t = img, txt, b, r, t
	a, o := &c.BiAttention, &c.BiOutput
	_, bi := a.Query1.Dims()
	qkv1, qkv2 := grow(&st.qkv1, b*r*3*bi), grow(&st.qkv2, b*t*3*bi)
	a.img().Forward(&sc.p1, qkv1, img, b*r)
	a.txt().Forward(&sc.p2, qkv2, txt, b*t)
	q1, k1, v1 := qkv1, qkv1[bi:], qkv1[2*bi:]
	q2, k2, v2 := qkv2, qkv2[bi:], qkv2[2*bi:]
	ctx1 := st.att1.Forward(&sc.a1, q2, k1, v1, 3*bi, 3*bi, b, t, r, a.heads, bi, a.drop1, imgMask, train, rng) // [B·T, bi]
	ctx2 := st.att2.Forward(&sc.a2, q1, k2, v2, 3*bi, 3*bi, b, r, t, a.heads, bi, a.drop2, txtMask, train, rng) // [B·R, bi]
	// The visual stream takes the region-query context, the text stream
	// the text-query context.
	vh, th := len(img)/(b*r), len(txt)/(b*t)
	h1 := grow(&sc.h1, b*r*vh)
	o.Dense1.Apply(h1, ctx2, b*r)
	st.drop1.ApplyAdd(st.ln1.Input(b*r, vh), h1, img, o.drop1, train, rng) // the residual sum
	y1 := grow(&sc.y1, b*r*vh)
	o.LayerNorm1.Normalize(y1, &st.ln1)
	h2 := grow(&sc.h2, b*t*th)
	o.Dense2.Apply(h2, ctx1, b*t)
	st.drop2.ApplyAdd(st.ln2.Input(b*t, th), h2, txt, o.drop2, train, rng)
	y2 := grow(&sc.y2, b*t*th)
	o.LayerNorm2.Normalize(y2, &st.ln2)
	return c.V.Forward(&st.V, vis, y1, b*r, train, rng), c.T.Forward(&st.T, txtSc, y2, b*t, train, rng)
}

// Backward returns the gradients for the img and txt inputs (in sc).
func (c *ConnectionLayer) Backward(st *connState, sc *connScratch, vis, txtSc *nn.FFNScratch, dimg, dtxt []float32, s *nn.GradSink) (dimgIn, dtxtIn []float32) {
	a, o := &c.BiAttention, &c.BiOutput
	b, r, t := st.b, st.r, st.t
	vh, th := len(st.img)/(b*r), len(st.txt)/(b*t)
	_, bi := a.Query1.Dims()

	y1 := grow(&sc.y1, b*r*vh)
	o.LayerNorm1.Renormalize(y1, &st.ln1) // the V FFN's input, not kept
	dv := c.V.Backward(&st.V, vis, y1, dimg, s)
	ds1 := grow(&sc.ds1, b*r*vh)
	o.LayerNorm1.Backprop(ds1, dv, &st.ln1, s)
	d1 := grow(&sc.d1, len(ds1))
	st.drop1.BackpropInto(d1, ds1, o.drop1)
	dctx2 := grow(&sc.dctx2, b*r*bi)
	o.Dense1.Backprop(dctx2, d1, st.att2.Context(&sc.a2), b*r, false, s)

	y2 := grow(&sc.y2, b*t*th)
	o.LayerNorm2.Renormalize(y2, &st.ln2)
	dt := c.T.Backward(&st.T, txtSc, y2, dtxt, s)
	ds2 := grow(&sc.ds2, b*t*th)
	o.LayerNorm2.Backprop(ds2, dt, &st.ln2, s)
	d2 := grow(&sc.d2, len(ds2))
	st.drop2.BackpropInto(d2, ds2, o.drop2)
	dctx1 := grow(&sc.dctx1, b*t*bi)
	o.Dense2.Backprop(dctx1, d2, st.att1.Context(&sc.a1), b*t, false, s)

	dqkv1, dqkv2 := grow(&sc.dqkv1, b*r*3*bi), grow(&sc.dqkv2, b*t*3*bi)
	st.att1.Backward(&sc.a1, dqkv2, dqkv1[bi:], dqkv1[2*bi:], dctx1)
	st.att2.Backward(&sc.a2, dqkv1, dqkv2[bi:], dqkv2[2*bi:], dctx2)
	dimgIn = grow(&sc.dimg, b*r*vh)
	copy(dimgIn, ds1)
	a.img().Backward(&sc.p1, dimgIn, true, dqkv1, st.img, b*r, s)
	dtxtIn = grow(&sc.dtxt, b*t*th)
	copy(dtxtIn, ds2)
	a.txt().Backward(&sc.p2, dtxtIn, true, dqkv2, st.txt, b*t, s)
	return dimgIn, dtxtIn
}

package vilbert

import (
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// streams is what a head reads: the final states of both streams, their
// pooled outputs and the image mask.
type streams struct {
	b, t, r    int
	tl, rl     int // positions per item in txt and img: t and r, or 1 (Model.AllPositions)
	dt, dv     int
	txt, img   []float32 // [B·T, Dt], [B·R, Dv]
	pt, pv     []float32 // [B, bi] pooled (ReLU outputs)
	imgMask    []float32 // [B·R] 0/1
	train      bool
	rng        *tensor.RNG
	dtxt, dimg []float32 // gradients of txt and img, zeroed by the caller
	dpt, dpv   []float32 // gradients of pt and pv; nil when unused
}

// headState is what a head keeps between its passes (the fields its kind
// uses).
type headState struct {
	pooled, x, a, logits []float32
	dpt, dpv, da, dx     []float32
	count                []float32
	tr                   transformState
	drop                 nn.DropState
}

// head is a classifier on top of the two streams.
type head interface {
	forward(st *headState, s *streams) []float32 // logits [B, labels]
	backward(st *headState, s *streams, dlogits []float32, sink *nn.GradSink)
	// readsAll reports whether the head reads positions of stream s
	// (textStream or imageStream) other than each item's first.
	readsAll(s int) bool
}

// MMFHead is ViLBERTForClassification's head: pooled = dropout(pt ∘ pv)
// with ∘ the fusion (mul or sum), then BertPredictionHeadTransform (dense,
// GELU, LayerNorm) and a linear layer.
type MMFHead struct {
	Dense     *nn.Linear    `pt:"0.dense"`     // [bi, bi]
	LayerNorm *nn.LayerNorm `pt:"0.LayerNorm"` // [bi]
	Out       *nn.Linear    `pt:"1"`           // [labels, bi]

	fusion string
	drop   float32
}

func (h *MMFHead) forward(st *headState, s *streams) []float32 {
	p := grow(&st.pooled, len(s.pt))
	for i := range p {
		if h.fusion == "sum" {
			p[i] = s.pt[i] + s.pv[i]
		} else {
			p[i] = s.pt[i] * s.pv[i]
		}
	}
	st.drop.Apply(p, h.drop, s.train, s.rng)
	x := transform{h.Dense, h.LayerNorm}.forward(&st.tr, p, s.b)
	_, k := h.Out.Dims()
	logits := grow(&st.logits, s.b*k)
	h.Out.Apply(logits, x, s.b)
	return logits
}

func (h *MMFHead) readsAll(int) bool { return false } // the pooled outputs only

func (h *MMFHead) backward(st *headState, s *streams, dlogits []float32, sink *nn.GradSink) {
	dx := grow(&st.dx, len(st.tr.y))
	h.Out.Backprop(dx, dlogits, st.tr.y, s.b, false, sink)
	dp := transform{h.Dense, h.LayerNorm}.backward(&st.tr, st.pooled, dx, s.b, sink)
	st.drop.Backprop(dp, h.drop)
	s.dpt = grow(&st.dpt, len(dp))
	s.dpv = grow(&st.dpv, len(dp))
	for i, g := range dp {
		if h.fusion == "sum" {
			s.dpt[i], s.dpv[i] = g, g
		} else {
			s.dpt[i], s.dpv[i] = g*s.pv[i], g*s.pt[i]
		}
	}
}

// MLPHead is Linear → ReLU → Dropout → Linear on a concatenation (keys
// classifier.0 and classifier.3, as nn.Sequential numbers them).
type MLPHead struct {
	Hidden *nn.Linear `pt:"0"`
	Out    *nn.Linear `pt:"3"`

	drop float32
}

func (h *MLPHead) run(st *headState, x []float32, s *streams) []float32 {
	_, hid := h.Hidden.Dims()
	a := grow(&st.a, s.b*hid)
	h.Hidden.Apply(a, x, s.b)
	for i, v := range a {
		a[i] = max(v, 0)
	}
	st.drop.Apply(a, h.drop, s.train, s.rng)
	_, k := h.Out.Dims()
	logits := grow(&st.logits, s.b*k)
	h.Out.Apply(logits, a, s.b)
	return logits
}

// back returns the gradient of the concatenated input.
func (h *MLPHead) back(st *headState, dlogits []float32, b int, sink *nn.GradSink) []float32 {
	da := grow(&st.da, len(st.a))
	h.Out.Backprop(da, dlogits, st.a, b, false, sink)
	st.drop.Backprop(da, h.drop)
	for i := range da {
		if st.a[i] <= 0 {
			da[i] = 0
		}
	}
	dx := grow(&st.dx, len(st.x))
	h.Hidden.Backprop(dx, da, st.x, b, false, sink)
	return dx
}

// ConcatHead is the original project's head on [pt ; pv]: 2·bi → bi → labels.
type ConcatHead struct {
	MLPHead `pt:""`
}

func (h *ConcatHead) forward(st *headState, s *streams) []float32 {
	bi := len(s.pt) / s.b
	x := grow(&st.x, 2*len(s.pt))
	for i := 0; i < s.b; i++ {
		copy(x[2*i*bi:], s.pt[i*bi:(i+1)*bi])
		copy(x[(2*i+1)*bi:], s.pv[i*bi:(i+1)*bi])
	}
	return h.run(st, x, s)
}

func (h *ConcatHead) readsAll(int) bool { return false } // the pooled outputs only

func (h *ConcatHead) backward(st *headState, s *streams, dlogits []float32, sink *nn.GradSink) {
	dx := h.back(st, dlogits, s.b, sink)
	bi := len(s.pt) / s.b
	s.dpt = grow(&st.dpt, len(s.pt))
	s.dpv = grow(&st.dpv, len(s.pv))
	for i := 0; i < s.b; i++ {
		copy(s.dpt[i*bi:(i+1)*bi], dx[2*i*bi:])
		copy(s.dpv[i*bi:(i+1)*bi], dx[(2*i+1)*bi:])
	}
}

// CoreHead is the core variant's head on [text [CLS] ; masked mean of the
// visual stream]: Dt+Dv → Dt → labels. The poolers are not used.
type CoreHead struct {
	MLPHead `pt:""`
}

func (h *CoreHead) forward(st *headState, s *streams) []float32 {
	w := s.dt + s.dv
	x := zeroed(&st.x, s.b*w)
	cnt := grow(&st.count, s.b)
	for i := 0; i < s.b; i++ {
		row := x[i*w : (i+1)*w]
		copy(row, s.txt[i*s.tl*s.dt:i*s.tl*s.dt+s.dt])
		mean := row[s.dt:]
		var n float32
		for r := 0; r < s.r; r++ {
			m := s.imgMask[i*s.r+r]
			if m == 0 {
				continue
			}
			n += m
			for j, v := range s.img[(i*s.r+r)*s.dv : (i*s.r+r+1)*s.dv] {
				mean[j] += m * v
			}
		}
		cnt[i] = n
		for j := range mean {
			mean[j] /= n
		}
	}
	return h.run(st, x, s)
}

// readsAll: the text stream's first position and every region.
func (h *CoreHead) readsAll(s int) bool { return s == imageStream }

func (h *CoreHead) backward(st *headState, s *streams, dlogits []float32, sink *nn.GradSink) {
	dx := h.back(st, dlogits, s.b, sink)
	w := s.dt + s.dv
	for i := 0; i < s.b; i++ {
		row := dx[i*w : (i+1)*w]
		nn.AddInto(s.dtxt[i*s.tl*s.dt:i*s.tl*s.dt+s.dt], row[:s.dt])
		for r := 0; r < s.r; r++ {
			m := s.imgMask[i*s.r+r]
			if m == 0 {
				continue
			}
			g := s.dimg[(i*s.r+r)*s.dv : (i*s.r+r+1)*s.dv]
			for j, v := range row[s.dt:] {
				g[j] += m * v / st.count[i]
			}
		}
	}
}

func newHead(pm *paramMaker, c *Config) head {
	switch c.Head {
	case HeadConcat:
		return &ConcatHead{MLPHead: MLPHead{Hidden: newLinear(pm, 2*c.BiHiddenSize, c.BiHiddenSize),
			Out: newLinear(pm, c.BiHiddenSize, c.NumLabels), drop: c.ClassifierDropout}}
	case HeadCore:
		return &CoreHead{MLPHead: MLPHead{Hidden: newLinear(pm, c.HiddenSize+c.VHiddenSize, c.HiddenSize),
			Out: newLinear(pm, c.HiddenSize, c.NumLabels), drop: c.ClassifierDropout}}
	default:
		return &MMFHead{Dense: newLinear(pm, c.BiHiddenSize, c.BiHiddenSize),
			LayerNorm: newLayerNorm(pm, c.BiHiddenSize, c.LayerNormEps),
			Out:       newLinear(pm, c.BiHiddenSize, c.NumLabels),
			fusion:    c.FusionMethod, drop: c.ClassifierDropout}
	}
}

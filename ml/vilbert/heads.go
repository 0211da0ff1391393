package vilbert

import (
	"mmc/ml/tensor"
)

// streams is what a head reads: the final states of both streams, their
// pooled outputs and the image mask.
type streams struct {
	b, t, r    int
	dt, dv     int
	txt, img   []float32 // [B·T, Dt], [B·R, Dv]
	pt, pv     []float32 // [B, bi] pooled (ReLU outputs)
	imgMask    []float32 // [B·R] 0/1
	train      bool
	rng        *tensor.RNG
	dtxt, dimg []float32 // gradients of txt and img, zeroed by the caller
	dpt, dpv   []float32 // gradients of pt and pv; nil when unused
}

// head is a classifier on top of the two streams.
type head interface {
	forward(s *streams) []float32 // logits [B, labels]
	backward(s *streams, dlogits []float32)
}

// MMFHead is ViLBERTForClassification's head: pooled = dropout(pt ∘ pv)
// with ∘ the fusion (mul or sum), then BertPredictionHeadTransform (dense,
// GELU, LayerNorm) and a linear layer.
type MMFHead struct {
	Dense     Linear    `pt:"0.dense"`     // [bi, bi]
	LayerNorm LayerNorm `pt:"0.LayerNorm"` // [bi]
	Out       Linear    `pt:"1"`           // [labels, bi]

	fusion string
	act    gelu
	drop   dropout
	pooled []float32
	dpt    []float32
	dpv    []float32
}

func (h *MMFHead) forward(s *streams) []float32 {
	p := grow(&h.pooled, len(s.pt))
	for i := range p {
		if h.fusion == "sum" {
			p[i] = s.pt[i] + s.pv[i]
		} else {
			p[i] = s.pt[i] * s.pv[i]
		}
	}
	h.drop.apply(p, s.train, s.rng)
	x := h.LayerNorm.Forward(h.act.Forward(h.Dense.Forward(p, s.b)), s.b)
	return h.Out.Forward(x, s.b)
}

func (h *MMFHead) backward(s *streams, dlogits []float32) {
	dx := h.Out.Backward(dlogits, true)
	dp := h.Dense.Backward(h.act.Backward(h.LayerNorm.Backward(dx)), true)
	h.drop.backward(dp)
	s.dpt = grow(&h.dpt, len(dp))
	s.dpv = grow(&h.dpv, len(dp))
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
	Hidden Linear `pt:"0"`
	Out    Linear `pt:"3"`

	drop dropout
	x, a []float32
}

func (h *MLPHead) run(x []float32, s *streams) []float32 {
	a := grow(&h.a, s.b*h.Hidden.out)
	copy(a, h.Hidden.Forward(x, s.b))
	for i, v := range a {
		a[i] = max(v, 0)
	}
	h.drop.apply(a, s.train, s.rng)
	return h.Out.Forward(a, s.b)
}

// back returns the gradient of the concatenated input.
func (h *MLPHead) back(dlogits []float32) []float32 {
	da := h.Out.Backward(dlogits, true)
	h.drop.backward(da)
	for i := range da {
		if h.a[i] <= 0 {
			da[i] = 0
		}
	}
	return h.Hidden.Backward(da, true)
}

// ConcatHead is the original project's head on [pt ; pv]: 2·bi → bi → labels.
type ConcatHead struct {
	MLPHead `pt:""`
	dpt     []float32
	dpv     []float32
}

func (h *ConcatHead) forward(s *streams) []float32 {
	bi := len(s.pt) / s.b
	x := grow(&h.x, 2*len(s.pt))
	for i := 0; i < s.b; i++ {
		copy(x[2*i*bi:], s.pt[i*bi:(i+1)*bi])
		copy(x[(2*i+1)*bi:], s.pv[i*bi:(i+1)*bi])
	}
	return h.run(x, s)
}

func (h *ConcatHead) backward(s *streams, dlogits []float32) {
	dx := h.back(dlogits)
	bi := len(s.pt) / s.b
	s.dpt = grow(&h.dpt, len(s.pt))
	s.dpv = grow(&h.dpv, len(s.pv))
	for i := 0; i < s.b; i++ {
		copy(s.dpt[i*bi:(i+1)*bi], dx[2*i*bi:])
		copy(s.dpv[i*bi:(i+1)*bi], dx[(2*i+1)*bi:])
	}
}

// CoreHead is the core variant's head on [text [CLS] ; masked mean of the
// visual stream]: Dt+Dv → Dt → labels. The poolers are not used.
type CoreHead struct {
	MLPHead `pt:""`
	count   []float32
}

func (h *CoreHead) forward(s *streams) []float32 {
	w := s.dt + s.dv
	x := zeroed(&h.x, s.b*w)
	cnt := grow(&h.count, s.b)
	for i := 0; i < s.b; i++ {
		row := x[i*w : (i+1)*w]
		copy(row, s.txt[i*s.t*s.dt:i*s.t*s.dt+s.dt])
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
	return h.run(x, s)
}

func (h *CoreHead) backward(s *streams, dlogits []float32) {
	dx := h.back(dlogits)
	w := s.dt + s.dv
	for i := 0; i < s.b; i++ {
		row := dx[i*w : (i+1)*w]
		addInto(s.dtxt[i*s.t*s.dt:i*s.t*s.dt+s.dt], row[:s.dt])
		for r := 0; r < s.r; r++ {
			m := s.imgMask[i*s.r+r]
			if m == 0 {
				continue
			}
			g := s.dimg[(i*s.r+r)*s.dv : (i*s.r+r+1)*s.dv]
			for j, v := range row[s.dt:] {
				g[j] += m * v / h.count[i]
			}
		}
	}
}

func newHead(pm *paramMaker, c *Config) head {
	switch c.Head {
	case HeadConcat:
		return &ConcatHead{MLPHead: MLPHead{Hidden: newLinear(pm, 2*c.BiHiddenSize, c.BiHiddenSize),
			Out: newLinear(pm, c.BiHiddenSize, c.NumLabels), drop: dropout{p: c.ClassifierDropout}}}
	case HeadCore:
		return &CoreHead{MLPHead: MLPHead{Hidden: newLinear(pm, c.HiddenSize+c.VHiddenSize, c.HiddenSize),
			Out: newLinear(pm, c.HiddenSize, c.NumLabels), drop: dropout{p: c.ClassifierDropout}}}
	default:
		return &MMFHead{Dense: newLinear(pm, c.BiHiddenSize, c.BiHiddenSize),
			LayerNorm: newLayerNorm(pm, c.BiHiddenSize, c.LayerNormEps),
			Out:       newLinear(pm, c.BiHiddenSize, c.NumLabels),
			fusion:    c.FusionMethod, drop: dropout{p: c.ClassifierDropout}}
	}
}

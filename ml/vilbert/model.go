package vilbert

import (
	"fmt"

	"mmc/ml/batch"

	"mmc/ml/tensor"
)

// Embeddings is BERT's text embedding: LayerNorm(word + position +
// token_type), then dropout.
type Embeddings struct {
	Word      *tensor.Tensor `pt:"word_embeddings.weight"`       // [vocab, H]
	Position  *tensor.Tensor `pt:"position_embeddings.weight"`   // [max_pos, H]
	TokenType *tensor.Tensor `pt:"token_type_embeddings.weight"` // [type_vocab, H]
	LayerNorm LayerNorm      `pt:"LayerNorm"`

	drop     dropout
	ids, seg []int32
	t        int
	sum      []float32
	sink     *gradSink
}

// Forward embeds ids and seg [B·T] into [B·T, H].
func (e *Embeddings) Forward(ids, seg []int32, t int, train bool, rng *tensor.RNG) []float32 {
	h := e.Word.Shape[1]
	e.ids, e.seg, e.t = ids, seg, t
	s := grow(&e.sum, len(ids)*h)
	for i, id := range ids {
		row := s[i*h : (i+1)*h]
		w := e.Word.Data[int(id)*h : int(id+1)*h]
		p := e.Position.Data[(i%t)*h : (i%t+1)*h]
		tt := e.TokenType.Data[int(seg[i])*h : int(seg[i]+1)*h]
		for j := range row {
			row[j] = w[j] + p[j] + tt[j]
		}
	}
	y := e.LayerNorm.Forward(s, len(ids))
	e.drop.apply(y, train, rng)
	return y
}

// Backward scatters dy [B·T, H] into the three tables (dy is consumed).
func (e *Embeddings) Backward(dy []float32) {
	e.drop.backward(dy)
	ds := e.LayerNorm.Backward(dy)
	h := e.Word.Shape[1]
	for _, tab := range []struct {
		p   *tensor.Tensor
		row func(i int) int
	}{
		{e.Word, func(i int) int { return int(e.ids[i]) }},
		{e.Position, func(i int) int { return i % e.t }},
		{e.TokenType, func(i int) int { return int(e.seg[i]) }},
	} {
		if !tab.p.RequiresGrad() {
			continue
		}
		g := e.sink.grad(tab.p)
		for i := range e.ids {
			r := tab.row(i)
			// [PAD] (id 0) is the padding_idx of HF's word embeddings:
			// its row never receives a gradient.
			if tab.p == e.Word && e.ids[i] == 0 {
				continue
			}
			addInto(g[r*h:(r+1)*h], ds[i*h:(i+1)*h])
		}
		e.sink.done(tab.p)
	}
}

// ImageEmbeddings is BertImageFeatureEmbeddings:
// LayerNorm(W_f·feature + W_l·location5), then dropout.
type ImageEmbeddings struct {
	Image     Linear    `pt:"image_embeddings"`          // [Dv, v_feature]
	Location  Linear    `pt:"image_location_embeddings"` // [Dv, 5]
	LayerNorm LayerNorm `pt:"LayerNorm"`

	drop dropout
	sum  *[]float32
}

// Forward embeds features [B·R, v_feature] and locations [B·R, 5].
func (e *ImageEmbeddings) Forward(feat, loc []float32, rows int, train bool, rng *tensor.RNG) []float32 {
	f := e.Image.Forward(feat, rows)
	l := e.Location.Forward(loc, rows)
	y := e.LayerNorm.Forward(add(&e.sum, f, l), rows)
	e.drop.apply(y, train, rng)
	return y
}

// Backward accumulates parameter gradients and, when needDx, returns the
// gradients for the features and locations.
func (e *ImageEmbeddings) Backward(dy []float32, needDx bool) (dfeat, dloc []float32) {
	e.drop.backward(dy)
	ds := e.LayerNorm.Backward(dy)
	return e.Image.Backward(ds, needDx), e.Location.Backward(ds, needDx)
}

// Encoder is MMF's BertEncoder: text layers, visual layers and connection
// layers run interleaved by v_biattention_id / t_biattention_id.
type Encoder struct {
	Layer  []*Layer           `pt:"layer"`
	VLayer []*Layer           `pt:"v_layer"`
	CLayer []*ConnectionLayer `pt:"c_layer"`

	steps []step
}

// step is one entry of the encoder's schedule.
type step struct {
	kind byte // 't' text layer, 'v' visual layer, 'c' connection layer
	i    int
}

// schedule lists the encoder's layers in forward order (reference §2g):
// for each connection k, text layers up to t_biattention_id[k], visual
// layers up to v_biattention_id[k], then c_layer[k]; finally the remaining
// visual layers, then the remaining text layers.
func schedule(c *Config) []step {
	var s []step
	vStart, tStart := 0, 0
	for k := range c.VBiAttentionID {
		vEnd, tEnd := c.VBiAttentionID[k], c.TBiAttentionID[k]
		for i := tStart; i < tEnd; i++ {
			s = append(s, step{'t', i})
		}
		for j := vStart; j < vEnd; j++ {
			s = append(s, step{'v', j})
		}
		if c.WithCoattention {
			s = append(s, step{'c', k})
		}
		vStart, tStart = vEnd, tEnd
	}
	for j := vStart; j < c.VNumHiddenLayers; j++ {
		s = append(s, step{'v', j})
	}
	for i := tStart; i < c.NumHiddenLayers; i++ {
		s = append(s, step{'t', i})
	}
	return s
}

// Base is MMF's ViLBERTBase: both embeddings, the encoder and the two
// poolers (Linear + ReLU on each stream's first position).
type Base struct {
	Embeddings  Embeddings      `pt:"embeddings"`
	VEmbeddings ImageEmbeddings `pt:"v_embeddings"`
	Encoder     Encoder         `pt:"encoder"`
	TPooler     Linear          `pt:"t_pooler.dense"` // [bi, H]
	VPooler     Linear          `pt:"v_pooler.dense"` // [bi, Dv]

	tFirst, vFirst []float32
}

func newBase(pm *paramMaker, c *Config) Base {
	eps := c.LayerNormEps
	b := Base{
		Embeddings: Embeddings{
			Word: pm.normal(c.VocabSize, c.HiddenSize), Position: pm.normal(c.MaxPositionEmbeddings, c.HiddenSize),
			TokenType: pm.normal(c.TypeVocabSize, c.HiddenSize), LayerNorm: newLayerNorm(pm, c.HiddenSize, eps),
			drop: dropout{p: c.HiddenDropout}, sink: pm.sink,
		},
		VEmbeddings: ImageEmbeddings{
			Image: newLinear(pm, c.VFeatureSize, c.VHiddenSize), Location: newLinear(pm, 5, c.VHiddenSize),
			LayerNorm: newLayerNorm(pm, c.VHiddenSize, eps), drop: dropout{p: c.HiddenDropout},
		},
		TPooler: newLinear(pm, c.HiddenSize, c.BiHiddenSize),
		VPooler: newLinear(pm, c.VHiddenSize, c.BiHiddenSize),
	}
	for range c.NumHiddenLayers {
		b.Encoder.Layer = append(b.Encoder.Layer, newLayer(pm, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.AttentionDropout, c.HiddenDropout, eps))
	}
	for range c.VNumHiddenLayers {
		b.Encoder.VLayer = append(b.Encoder.VLayer, newLayer(pm, c.VHiddenSize, c.VNumAttentionHeads, c.VIntermediateSize, c.VAttentionDropout, c.VHiddenDropout, eps))
	}
	for range c.VBiAttentionID {
		b.Encoder.CLayer = append(b.Encoder.CLayer, newConnectionLayer(pm, c))
	}
	b.Encoder.steps = schedule(c)
	b.Encoder.shareScratch()
	return b
}

// shareScratch lets the layers of each kind share the buffers that live
// only while one layer runs: forward temporaries, and backward gradients
// that the next module down consumes before it writes its own. Every
// module reads its upstream gradient completely before writing any of its
// output buffers, so layers of one kind may share them; the two streams
// and the connection layers keep separate sets because a connection
// layer holds both streams' gradients at once. This saves about a fifth
// of the training memory at full size.
func (e *Encoder) shareScratch() {
	shareLayers(e.Layer)
	shareLayers(e.VLayer)
	var ffnV, ffnT []*FFN
	roles := map[string][]**[]float32{}
	add := func(role string, p **[]float32) { roles[role] = append(roles[role], p) }
	for _, c := range e.CLayer {
		ba, bo := &c.BiAttention, &c.BiOutput
		add("dimg", &ba.dimg)
		add("dtxt", &ba.dtxt)
		for i, a := range []*attention{&ba.att1, &ba.att2} {
			add(fmt.Sprint("dq", i), &a.dq)
			add(fmt.Sprint("dk", i), &a.dk)
			add(fmt.Sprint("dv", i), &a.dv)
			add(fmt.Sprint("work", i), &a.work)
			add(fmt.Sprint("ctx", i), &a.ctx)
		}
		add("dense1.y", &bo.Dense1.y)
		add("dense1.dx", &bo.Dense1.dx)
		add("dense2.y", &bo.Dense2.y)
		add("dense2.dx", &bo.Dense2.dx)
		add("ln1.dx", &bo.LayerNorm1.dx)
		add("ln1.y", &bo.LayerNorm1.y)
		add("ln2.y", &bo.LayerNorm2.y)
		add("ln2.dx", &bo.LayerNorm2.dx)
		add("sum1", &bo.sum1)
		add("sum2", &bo.sum2)
		add("d1", &bo.d1)
		add("d2", &bo.d2)
		ffnV, ffnT = append(ffnV, &c.V), append(ffnT, &c.T)
	}
	for _, ps := range roles {
		link(ps...)
	}
	shareFFNs(ffnV)
	shareFFNs(ffnT)
}

func shareLayers(ls []*Layer) {
	roles := map[string][]**[]float32{}
	var ffns []*FFN
	for _, l := range ls {
		a := &l.Attention
		for role, p := range map[string]**[]float32{
			"dense.y": &a.Dense.y, "dense.dx": &a.Dense.dx, "ln.dx": &a.LayerNorm.dx,
			"sum": &a.sum, "dh": &a.dh, "dx": &a.dx,
			"dq": &a.att.dq, "dk": &a.att.dk, "dv": &a.att.dv, "work": &a.att.work, "ctx": &a.att.ctx,
			"ln.y": &a.LayerNorm.y,
		} {
			roles[role] = append(roles[role], p)
		}
		ffns = append(ffns, &l.FFN)
	}
	for _, ps := range roles {
		link(ps...)
	}
	shareFFNs(ffns)
}

func shareFFNs(fs []*FFN) {
	roles := map[string][]**[]float32{}
	for _, f := range fs {
		for role, p := range map[string]**[]float32{
			"out.y": &f.Output.y, "out.dx": &f.Output.dx, "gelu.y": &f.act.y, "gelu.dx": &f.act.dx, "ln.dx": &f.LayerNorm.dx,
			"sum": &f.sum, "do": &f.do, "dx": &f.dx,
		} {
			roles[role] = append(roles[role], p)
		}
	}
	for _, ps := range roles {
		link(ps...)
	}
}

// pool is ReLU(dense(x[:,0])) for x [B·L, D]; it returns [B, bi].
func pool(lin *Linear, first *[]float32, x []float32, b, l, d int) []float32 {
	f := grow(first, b*d)
	for i := 0; i < b; i++ {
		copy(f[i*d:(i+1)*d], x[i*l*d:i*l*d+d])
	}
	y := lin.Forward(f, b)
	for i, v := range y {
		y[i] = max(v, 0)
	}
	return y
}

// poolBackward adds the pooler's gradient into dx rows 0 of each item.
func poolBackward(lin *Linear, y, dy, dx []float32, b, l, d int) {
	for i := range dy {
		if y[i] <= 0 {
			dy[i] = 0
		}
	}
	df := lin.Backward(dy, true)
	for i := 0; i < b; i++ {
		addInto(dx[i*l*d:i*l*d+d], df[i*d:(i+1)*d])
	}
}

// Inputs is one batch in MMF's layout (the same arrays as batch.Batch).
// Region features and locations are the regions as read from the feature
// store; the model applies the region convention itself.
type Inputs struct {
	Batch, TextLen, Regions int // B, T, R

	InputIDs   []int32   // [B·T] WordPiece ids, 0 = [PAD]
	SegmentIDs []int32   // [B·T]; nil means all 0
	TextMask   []float32 // [B·T] 1 for real tokens; nil means all real
	Features   []float32 // [B·R·v_feature_size]
	Locations  []float32 // [B·R·5]: x1/W, y1/H, x2/W, y2/H, area/(W·H)
	ImageMask  []float32 // [B·R] 1 for real regions (MMF: arange(R) < max_features); nil means all real
}

// FromBatch views a collated batch as model inputs (no copies).
func FromBatch(b *batch.Batch) *Inputs {
	return &Inputs{Batch: b.Size, TextLen: b.SeqLen, Regions: b.Regions, InputIDs: b.InputIDs,
		SegmentIDs: b.SegmentIDs, TextMask: b.TextMask, Features: b.Features, Locations: b.Locations, ImageMask: b.ImageMask}
}

// check validates the shapes and id ranges of in against c.
func (in *Inputs) check(c *Config) error {
	b, t, r := in.Batch, in.TextLen, in.Regions
	if b <= 0 || t <= 0 || r <= 0 {
		return fmt.Errorf("vilbert inputs: batch %d, text length %d and regions %d must be positive", b, t, r)
	}
	if t > c.MaxPositionEmbeddings {
		return fmt.Errorf("vilbert inputs: text length %d exceeds max_position_embeddings %d", t, c.MaxPositionEmbeddings)
	}
	for _, s := range []struct {
		name string
		got  int
		want int
		opt  bool
	}{
		{"InputIDs", len(in.InputIDs), b * t, false}, {"SegmentIDs", len(in.SegmentIDs), b * t, true},
		{"TextMask", len(in.TextMask), b * t, true}, {"Features", len(in.Features), b * r * c.VFeatureSize, false},
		{"Locations", len(in.Locations), b * r * 5, false}, {"ImageMask", len(in.ImageMask), b * r, true},
	} {
		if s.got != s.want && !(s.opt && s.got == 0) {
			return fmt.Errorf("vilbert inputs: %s has %d values, want %d", s.name, s.got, s.want)
		}
	}
	for i, id := range in.InputIDs {
		if id < 0 || int(id) >= c.VocabSize {
			return fmt.Errorf("vilbert inputs: InputIDs[%d] = %d outside the vocabulary of %d", i, id, c.VocabSize)
		}
	}
	for i, s := range in.SegmentIDs {
		if s < 0 || int(s) >= c.TypeVocabSize {
			return fmt.Errorf("vilbert inputs: SegmentIDs[%d] = %d outside type_vocab_size %d", i, s, c.TypeVocabSize)
		}
	}
	if in.ImageMask != nil {
		for i := 0; i < b; i++ {
			var n float32
			for _, v := range in.ImageMask[i*r : (i+1)*r] {
				n += v
			}
			if n == 0 {
				return fmt.Errorf("vilbert inputs: item %d has no real region (ImageMask all zero)", i)
			}
		}
	}
	return nil
}

// additiveMask turns 0/1 masks into (1 − m)·−10000, as MMF does.
func additiveMask(buf *[]float32, m []float32) []float32 {
	out := grow(buf, len(m))
	for i, v := range m {
		out[i] = (1 - v) * -10000
	}
	return out
}

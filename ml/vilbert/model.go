package vilbert

import (
	"fmt"
	"slices"

	"mmc/ml/batch"
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// Embeddings is BERT's text embedding: LayerNorm(word + position +
// token_type), then dropout.
type Embeddings struct {
	Word      *tensor.Tensor `pt:"word_embeddings.weight"`       // [vocab, H]
	Position  *tensor.Tensor `pt:"position_embeddings.weight"`   // [max_pos, H]
	TokenType *tensor.Tensor `pt:"token_type_embeddings.weight"` // [type_vocab, H]
	LayerNorm *nn.LayerNorm  `pt:"LayerNorm"`

	drop float32
}

// embState is what the text embedding keeps.
type embState struct {
	ids, seg []int32
	t        int
	ln       nn.LNState
	y, ds    []float32
	drop     nn.DropState
	rows     []int32   // the word rows of the batch (wordRows)
	rowGrad  []float32 // their gradient
}

// Forward embeds ids and seg [B·T] into [B·T, H] (in st).
func (e *Embeddings) Forward(st *embState, ids, seg []int32, t int, train bool, rng *tensor.RNG) []float32 {
	h := e.Word.Shape[1]
	st.ids, st.seg, st.t = ids, seg, t
	s := st.ln.Input(len(ids), h)
	for i, id := range ids {
		row := s[i*h : (i+1)*h]
		w := e.Word.Data[int(id)*h : int(id+1)*h]
		p := e.Position.Data[(i%t)*h : (i%t+1)*h]
		tt := e.TokenType.Data[int(seg[i])*h : int(seg[i]+1)*h]
		for j := range row {
			row[j] = w[j] + p[j] + tt[j]
		}
	}
	y := grow(&st.y, len(ids)*h)
	e.LayerNorm.Normalize(y, &st.ln)
	st.drop.Apply(y, e.drop, train, rng)
	return y
}

// Backward scatters dy [B·T, H] into the three tables (dy is consumed).
func (e *Embeddings) Backward(st *embState, dy []float32, s *nn.GradSink) {
	st.drop.Backprop(dy, e.drop)
	ds := grow(&st.ds, len(dy))
	e.LayerNorm.Backprop(ds, dy, &st.ln, s)
	h := e.Word.Shape[1]
	for _, tab := range []struct {
		p   *tensor.Tensor
		row func(i int) int
	}{
		{e.Word, func(i int) int { return int(st.ids[i]) }},
		{e.Position, func(i int) int { return i % st.t }},
		{e.TokenType, func(i int) int { return int(st.seg[i]) }},
	} {
		if !tab.p.RequiresGrad() {
			continue
		}
		if tab.p == e.Word && s.Rows(e.Word) {
			e.wordRows(st, ds, s)
			continue
		}
		g := s.Grad(tab.p)
		for i := range st.ids {
			r := tab.row(i)
			// [PAD] (id 0) is the padding_idx of HF's word embeddings:
			// its row never receives a gradient.
			if tab.p == e.Word && st.ids[i] == 0 {
				continue
			}
			nn.AddInto(g[r*h:(r+1)*h], ds[i*h:(i+1)*h])
		}
		s.Done(tab.p)
	}
}

// wordRows hands the word table's gradient to s on the rows of the
// batch's ids only: each row's sum is built in the order of the dense
// scatter, so the update is the dense one bit for bit, without a buffer
// the size of the table (94 MB at BERT's vocabulary).
func (e *Embeddings) wordRows(st *embState, ds []float32, s *nn.GradSink) {
	h := e.Word.Shape[1]
	st.rows = st.rows[:0]
	for _, id := range st.ids {
		if id != 0 { // [PAD] never receives a gradient
			st.rows = append(st.rows, id)
		}
	}
	slices.Sort(st.rows)
	st.rows = slices.Compact(st.rows)
	g := grow(&st.rowGrad, len(st.rows)*h)
	clear(g)
	for i, id := range st.ids {
		if id == 0 {
			continue
		}
		k, _ := slices.BinarySearch(st.rows, id)
		nn.AddInto(g[k*h:(k+1)*h], ds[i*h:(i+1)*h])
	}
	s.DoneRows(e.Word, st.rows, g)
}

// ImageEmbeddings is BertImageFeatureEmbeddings:
// LayerNorm(W_f·feature + W_l·location5), then dropout.
type ImageEmbeddings struct {
	Image     *nn.Linear    `pt:"image_embeddings"`          // [Dv, v_feature]
	Location  *nn.Linear    `pt:"image_location_embeddings"` // [Dv, 5]
	LayerNorm *nn.LayerNorm `pt:"LayerNorm"`

	drop float32
}

// vembState is what the image embedding keeps.
type vembState struct {
	feat, loc   []float32 // inputs (kept alive by the caller)
	rows        int
	f, l, y, ds []float32
	dfeat, dloc []float32
	ln          nn.LNState
	drop        nn.DropState
}

// Forward embeds features [B·R, v_feature] and locations [B·R, 5].
func (e *ImageEmbeddings) Forward(st *vembState, feat, loc []float32, rows int, train bool, rng *tensor.RNG) []float32 {
	st.feat, st.loc, st.rows = feat, loc, rows
	_, d := e.Image.Dims()
	f, l := grow(&st.f, rows*d), grow(&st.l, rows*d)
	e.Image.Apply(f, feat, rows)
	e.Location.Apply(l, loc, rows)
	s := st.ln.Input(rows, d)
	for i := range s {
		s[i] = f[i] + l[i]
	}
	y := grow(&st.y, rows*d)
	e.LayerNorm.Normalize(y, &st.ln)
	st.drop.Apply(y, e.drop, train, rng)
	return y
}

// Backward accumulates parameter gradients and, when needDx, returns the
// gradients for the features and locations (dy is consumed).
func (e *ImageEmbeddings) Backward(st *vembState, dy []float32, needDx bool, s *nn.GradSink) (dfeat, dloc []float32) {
	st.drop.Backprop(dy, e.drop)
	ds := grow(&st.ds, len(dy))
	e.LayerNorm.Backprop(ds, dy, &st.ln, s)
	if needDx {
		dfeat, dloc = grow(&st.dfeat, len(st.feat)), grow(&st.dloc, len(st.loc))
	}
	e.Image.Backprop(dfeat, ds, st.feat, st.rows, false, s)
	e.Location.Backprop(dloc, ds, st.loc, st.rows, false, s)
	return dfeat, dloc
}

// Encoder is MMF's BertEncoder: text layers, visual layers and connection
// layers run interleaved by v_biattention_id / t_biattention_id.
type Encoder struct {
	Layer  []*Layer           `pt:"layer"`
	VLayer []*Layer           `pt:"v_layer"`
	CLayer []*ConnectionLayer `pt:"c_layer"`

	steps []step
	last  [2]int // per stream, the index of the last step that writes it (-1: none)
}

// step is one entry of the encoder's schedule.
type step struct {
	kind byte // 't' text layer, 'v' visual layer, 'c' connection layer
	i    int
}

// Streams of the encoder, as indices.
const (
	textStream = iota
	imageStream
)

// writes reports whether the step's output is a new state of stream s.
func (st step) writes(s int) bool {
	return st.kind == 'c' || st.kind == 't' && s == textStream || st.kind == 'v' && s == imageStream
}

// lastWriters returns, per stream, the index of the last of steps that
// writes it, or -1.
func lastWriters(steps []step) [2]int {
	last := [2]int{-1, -1}
	for k, st := range steps {
		for s := range last {
			if st.writes(s) {
				last[s] = k
			}
		}
	}
	return last
}

// feeder returns the index of the last step before k that writes stream
// s, or -1 when step k reads the stream's embeddings.
func (e *Encoder) feeder(k, s int) int {
	for j := k - 1; j >= 0; j-- {
		if e.steps[j].writes(s) {
			return j
		}
	}
	return -1
}

// output returns the FFN that ends step st on stream s (which st writes)
// and its state in ws.
func (e *Encoder) output(ws *Workspace, st step, s int) (*nn.BertFFN, *nn.FFNState) {
	switch {
	case st.kind == 't':
		return &e.Layer[st.i].FFN, &ws.text[st.i].FFN
	case st.kind == 'v':
		return &e.VLayer[st.i].FFN, &ws.vis[st.i].FFN
	case s == textStream:
		return &e.CLayer[st.i].T, &ws.conn[st.i].T
	default:
		return &e.CLayer[st.i].V, &ws.conn[st.i].V
	}
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
	TPooler     *nn.Linear      `pt:"t_pooler.dense"` // [bi, H]
	VPooler     *nn.Linear      `pt:"v_pooler.dense"` // [bi, Dv]
}

func newBase(pm *paramMaker, c *Config) Base {
	eps := c.LayerNormEps
	b := Base{
		Embeddings: Embeddings{
			Word: pm.normal(c.VocabSize, c.HiddenSize), Position: pm.normal(c.MaxPositionEmbeddings, c.HiddenSize),
			TokenType: pm.normal(c.TypeVocabSize, c.HiddenSize), LayerNorm: newLayerNorm(pm, c.HiddenSize, eps),
			drop: c.HiddenDropout,
		},
		VEmbeddings: ImageEmbeddings{
			Image: newLinear(pm, c.VFeatureSize, c.VHiddenSize), Location: newLinear(pm, 5, c.VHiddenSize),
			LayerNorm: newLayerNorm(pm, c.VHiddenSize, eps), drop: c.HiddenDropout,
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
	b.Encoder.last = lastWriters(b.Encoder.steps)
	return b
}

// poolState is what a pooler keeps: its input rows and ReLU output.
type poolState struct{ first, y, dy, df []float32 }

// pool is ReLU(dense(x[:,0])) for x [B·L, D]; it returns [B, bi] in st.
func pool(lin *nn.Linear, st *poolState, x []float32, b, l, d int) []float32 {
	f := grow(&st.first, b*d)
	for i := 0; i < b; i++ {
		copy(f[i*d:(i+1)*d], x[i*l*d:i*l*d+d])
	}
	_, out := lin.Dims()
	y := grow(&st.y, b*out)
	lin.Apply(y, f, b)
	for i, v := range y {
		y[i] = max(v, 0)
	}
	return y
}

// poolBackward adds the pooler's gradient for dy into rows 0 of each
// item of dx.
func poolBackward(lin *nn.Linear, st *poolState, dy, dx []float32, b, l, d int, s *nn.GradSink) {
	g := grow(&st.dy, len(dy))
	for i, v := range dy {
		if st.y[i] <= 0 {
			v = 0
		}
		g[i] = v
	}
	df := grow(&st.df, b*d)
	lin.Backprop(df, g, st.first, b, false, s)
	for i := 0; i < b; i++ {
		nn.AddInto(dx[i*l*d:i*l*d+d], df[i*d:(i+1)*d])
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

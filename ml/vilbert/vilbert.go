package vilbert

import (
	"fmt"

	"mmc/ml/kernels"
	"mmc/ml/nn"
	"mmc/ml/optim"
	"mmc/ml/tensor"
)

// Model is a ViLBERT classifier: MMF's ViLBERTForClassification layout,
// keys "bert.*" and "classifier.*" (saved as "model.bert.*" and
// "model.classifier.*", as MMF's fine-tuned checkpoints are).
//
// The model holds parameters only. A forward pass keeps what its backward
// pass needs in a Workspace: Forward, Backward and friends use the
// model's own, and ForwardWith/BackwardWith take one from NewWorkspace,
// so goroutines with their own workspaces can run the model at once
// (their gradients still meet in the shared parameters' Grad).
type Model struct {
	Config Config
	Bert   Base `pt:"bert"`
	// Classifier is *MMFHead, *ConcatHead or *CoreHead.
	Classifier head `pt:"classifier"`

	// Convention is the region convention in use (RegionsMMF or
	// RegionsVMT): Config.RegionConvention, or when that is empty the
	// convention of the last checkpoint loaded (RegionsMMF before any).
	Convention string
	// InputGrads asks Backward for gradients with respect to the region
	// features and locations (see InputGradients).
	InputGrads bool
	// Interrupt, when set, is called between encoder layers; an error
	// ends Forward with it (the training loop sets ctx.Err).
	Interrupt func() error
	// AllPositions makes the last layer of each stream compute every
	// position. Otherwise, when the classifier reads only a stream's
	// first position (the pooler's input) and the stream ends in a text
	// or visual layer, that layer computes the first position of each
	// item only (nn.BertLayer.ForwardFirst): the same logits and
	// gradients for about 5 % fewer flops at full size, and
	// Output.Text/Image hold only what was computed (TextRows,
	// ImageRows). The pretraining heads read every position and set it.
	AllPositions bool

	ws     *Workspace
	params []NamedParam // the parameter list, walked once
}

// Workspace is one call's activations: every module's saved state, the
// scratch buffers that layers of one kind share while they run one at a
// time, and the gradient sink. It is built from the layer schedule on
// first use and reused from call to call, so a training loop allocates
// nothing after its first step.
type Workspace struct {
	emb         embState
	vemb        vembState
	text, vis   []nn.LayerState
	conn        []connState
	textSc      nn.LayerScratch
	visSc       nn.LayerScratch
	connSc      connScratch
	tpool       poolState
	vpool       poolState
	head        headState
	sink        nn.GradSink
	out         Output
	s           streams
	b, t, r     int
	nreg        []float32 // real regions per item (VMT mean)
	vmtMask     []float32
	ones, ones2 []float32
	feat, loc   []float32
	imask       []float32
	tmask       []float32
	tadd, iadd  []float32
	relay       [2][2][]float32 // per stream, the two buffers its encoder states alternate in

	dtxt, dimg, dfeat, dloc []float32
	dpt, dpv                []float32
	backwardReady           bool
}

// Output is a forward pass's result. Its slices belong to the workspace
// and are overwritten by the next Forward in it.
type Output struct {
	Logits      []float32 // [B, NumLabels]
	PooledText  []float32 // [B, bi] ReLU(t_pooler(txt[:,0]))
	PooledImage []float32 // [B, bi] ReLU(v_pooler(img[:,0]))
	Text        []float32 // [B·TextRows, H] final text states
	Image       []float32 // [B·ImageRows, Dv] final visual states
	// TextRows and ImageRows are the positions per item in Text and
	// Image: T and R' (R+1 under RegionsVMT), or 1 where only the first
	// position was computed (see Model.AllPositions).
	TextRows, ImageRows int
}

// NewWorkspace returns an empty workspace for ForwardWith and
// BackwardWith.
func (m *Model) NewWorkspace() *Workspace {
	c := &m.Config
	return &Workspace{text: make([]nn.LayerState, c.NumHiddenLayers), vis: make([]nn.LayerState, c.VNumHiddenLayers),
		conn: make([]connState, len(m.Bert.Encoder.CLayer))}
}

// New builds a model with freshly initialised weights as BERT's
// _init_weights does them: Linear and embedding weights ~ N(0,
// initializer_range²) from a generator seeded with seed, biases 0,
// LayerNorm γ 1 and β 0.
func New(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("vilbert: %w", err)
	}
	pm := &paramMaker{alloc: true, rng: tensor.NewRNG(seed), std: c.InitializerRange}
	m := build(pm, c)
	// nn.Embedding's padding_idx row starts at zero.
	clear(m.Bert.Embeddings.Word.Data[:c.HiddenSize])
	m.SetFreezeBertLayers(c.FreezeBertLayers)
	return m, nil
}

func build(pm *paramMaker, c Config) *Model {
	m := &Model{Config: c, Convention: c.RegionConvention}
	if m.Convention == "" {
		m.Convention = RegionsMMF
	}
	m.Bert = newBase(pm, &m.Config)
	m.Classifier = newHead(pm, &m.Config)
	m.ws = m.NewWorkspace()
	return m
}

// ParamCount is the number of parameters of a model built from c,
// computed from shapes without allocating them.
func ParamCount(c Config) (int, error) {
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("vilbert: %w", err)
	}
	m := build(&paramMaker{}, c)
	n := 0
	for _, p := range m.Parameters() {
		n += tensor.NumElements(p.Tensor.Shape)
	}
	return n, nil
}

// SetFreezeBertLayers freezes the text embeddings and the first n text
// layers (n = 0 unfreezes them). Frozen parameters get no gradient, and
// the backward pass skips every frozen module below the first trainable
// one.
func (m *Model) SetFreezeBertLayers(n int) {
	m.Config.FreezeBertLayers = n
	for _, p := range walk(&m.Bert.Embeddings, "") {
		p.Tensor.SetRequiresGrad(n == 0)
	}
	for i, l := range m.Bert.Encoder.Layer {
		for _, p := range walk(l, "") {
			p.Tensor.SetRequiresGrad(i >= n)
		}
	}
}

// Forward runs the model on a batch in the model's own workspace. With
// train set, dropout is active and draws from rng (which may be nil
// otherwise). The Output's slices belong to the workspace and are
// overwritten by the next Forward.
func (m *Model) Forward(in *Inputs, train bool, rng *tensor.RNG) (*Output, error) {
	return m.ForwardWith(m.ws, in, train, rng)
}

// ForwardWith is Forward keeping the activations in ws.
func (m *Model) ForwardWith(ws *Workspace, in *Inputs, train bool, rng *tensor.RNG) (*Output, error) {
	c := &m.Config
	if err := in.check(c); err != nil {
		return nil, err
	}
	if train && rng == nil {
		return nil, fmt.Errorf("vilbert: training forward pass needs a random generator for dropout")
	}
	b, t := in.Batch, in.TextLen
	ws.b, ws.t = b, t
	seg := in.SegmentIDs
	if seg == nil {
		seg = make([]int32, b*t)
	}
	tmask := in.TextMask
	if tmask == nil {
		tmask = grow(&ws.ones, b*t)
		for i := range tmask {
			tmask[i] = 1
		}
	}
	ws.tmask = tmask
	feat, loc, imask := m.regions(ws, in)
	r := ws.r

	// Embeddings: text [B·T, H], image [B·R, Dv].
	base := &m.Bert
	txt := base.Embeddings.Forward(&ws.emb, in.InputIDs, seg, t, train, rng)
	img := base.VEmbeddings.Forward(&ws.vemb, feat, loc, b*r, train, rng)
	tadd := additiveMask(&ws.tadd, tmask) // (1 − m)·−10000 over keys
	iadd := additiveMask(&ws.iadd, imask)

	// The encoder, in MMF's interleaved order.
	enc := &base.Encoder
	sizes := [2]int{b * t * c.HiddenSize, b * r * c.VHiddenSize}
	var written [2]int
	rows := [2]int{t, r} // positions per item in each stream's final state
	// A stream's last layer computes only the first positions when
	// nothing reads the others.
	cut := func(k, s int) bool { return k == enc.last[s] && m.firstOnly(s) }
	for k, st := range enc.steps {
		if m.Interrupt != nil {
			if err := m.Interrupt(); err != nil {
				return nil, err
			}
		}
		for s := range written {
			if !st.writes(s) {
				continue
			}
			// Every state of a stream but its last goes to one of two
			// alternating buffers (backwardStreams rebuilds it when the
			// next step's backward pass needs it); the last, which the
			// poolers and the caller read, keeps its own.
			if written[s]++; k != enc.last[s] {
				_, fs := enc.output(ws, st, s)
				fs.Y = grow(&ws.relay[s][written[s]%2], sizes[s])
			}
		}
		switch {
		case st.kind == 't' && cut(k, textStream):
			txt = enc.Layer[st.i].ForwardFirst(&ws.text[st.i], &ws.textSc, txt, b, t, tadd, train, rng)
			rows[textStream] = 1
		case st.kind == 'v' && cut(k, imageStream):
			img = enc.VLayer[st.i].ForwardFirst(&ws.vis[st.i], &ws.visSc, img, b, r, iadd, train, rng)
			rows[imageStream] = 1
		case st.kind == 't':
			txt = enc.Layer[st.i].Forward(&ws.text[st.i], &ws.textSc, txt, b, t, tadd, train, rng)
		case st.kind == 'v':
			img = enc.VLayer[st.i].Forward(&ws.vis[st.i], &ws.visSc, img, b, r, iadd, train, rng)
		case st.kind == 'c':
			img, txt = enc.CLayer[st.i].Forward(&ws.conn[st.i], &ws.connSc, &ws.visSc.FFN, &ws.textSc.FFN, img, iadd, txt, tadd, b, r, t, train, rng)
		}
	}

	// Poolers and head.
	tl, rl := rows[textStream], rows[imageStream]
	pt := pool(base.TPooler, &ws.tpool, txt, b, tl, c.HiddenSize)
	pv := pool(base.VPooler, &ws.vpool, img, b, rl, c.VHiddenSize)
	ws.s = streams{b: b, t: t, r: r, tl: tl, rl: rl, dt: c.HiddenSize, dv: c.VHiddenSize, txt: txt, img: img,
		pt: pt, pv: pv, imgMask: imask, train: train, rng: rng}
	logits := m.Classifier.forward(&ws.head, &ws.s)
	ws.out = Output{Logits: logits, PooledText: pt, PooledImage: pv, Text: txt, Image: img, TextRows: tl, ImageRows: rl}
	ws.backwardReady = true
	return &ws.out, nil
}

// regions applies the region convention and returns features [B·R',
// v_feature], locations [B·R', 5] and the image mask [B·R'].
func (m *Model) regions(ws *Workspace, in *Inputs) (feat, loc, mask []float32) {
	b, r, dv := in.Batch, in.Regions, m.Config.VFeatureSize
	in0 := in.ImageMask
	if in0 == nil {
		in0 = grow(&ws.ones2, b*r)
		for i := range in0 {
			in0[i] = 1
		}
	}
	if m.Convention != RegionsVMT {
		ws.r = r
		return in.Features, in.Locations, in0
	}
	// vilbert-multi-task: region 0 is the mean of the real regions with
	// location [0,0,1,1,1], and it is real too.
	rr := r + 1
	ws.r = rr
	feat = grow(&ws.feat, b*rr*dv)
	loc = grow(&ws.loc, b*rr*5)
	mask = grow(&ws.imask, b*rr)
	ws.nreg = grow(&ws.nreg, b)
	for i := 0; i < b; i++ {
		g := feat[i*rr*dv : i*rr*dv+dv]
		clear(g)
		var n float32
		for j := 0; j < r; j++ {
			w := in0[i*r+j]
			n += w
			for k, v := range in.Features[(i*r+j)*dv : (i*r+j+1)*dv] {
				g[k] += w * v
			}
		}
		ws.nreg[i] = n
		for k := range g {
			g[k] /= n
		}
		copy(feat[i*rr*dv+dv:(i+1)*rr*dv], in.Features[i*r*dv:(i+1)*r*dv])
		copy(loc[i*rr*5:], []float32{0, 0, 1, 1, 1})
		copy(loc[i*rr*5+5:(i+1)*rr*5], in.Locations[i*r*5:(i+1)*r*5])
		mask[i*rr] = 1
		copy(mask[i*rr+1:(i+1)*rr], in0[i*r:(i+1)*r])
	}
	ws.vmtMask = in0
	return feat, loc, mask
}

// Backward propagates dlogits [B, NumLabels] (the loss gradient with
// respect to the last Forward's logits) and accumulates into the Grad of
// every trainable parameter. Call it once per Forward.
func (m *Model) Backward(dlogits []float32) error { return m.BackwardWith(m.ws, dlogits) }

// BackwardWith is Backward for the forward pass that ran in ws.
func (m *Model) BackwardWith(ws *Workspace, dlogits []float32) error {
	if !ws.backwardReady {
		return fmt.Errorf("vilbert: Backward without a preceding Forward")
	}
	ws.backwardReady = false
	c := &m.Config
	if len(dlogits) != ws.b*c.NumLabels {
		return fmt.Errorf("vilbert: Backward got %d logit gradients, want %d", len(dlogits), ws.b*c.NumLabels)
	}
	s := &ws.s
	s.dtxt = zeroed(&ws.dtxt, len(s.txt))
	s.dimg = zeroed(&ws.dimg, len(s.img))
	s.dpt, s.dpv = nil, nil
	m.Classifier.backward(&ws.head, s, dlogits, &ws.sink)
	m.backwardStreams(ws, s.dtxt, s.dimg, s.dpt, s.dpv)
	return nil
}

// BackwardStreams propagates gradients given on the last Forward's
// outputs other than the logits: dText [B·T, H] and dImage [B·R', Dv] on
// the final states of both streams, dPooledText and dPooledImage [B, bi]
// on the pooled outputs (the pretraining heads read these). A nil slice
// means a zero gradient. The classifier gets no gradient. Call it, or
// Backward, once per Forward; the arguments are not modified.
func (m *Model) BackwardStreams(dText, dImage, dPooledText, dPooledImage []float32) error {
	return m.backwardStreamsWith(m.ws, dText, dImage, dPooledText, dPooledImage)
}

func (m *Model) backwardStreamsWith(ws *Workspace, dText, dImage, dPooledText, dPooledImage []float32) error {
	if !ws.backwardReady {
		return fmt.Errorf("vilbert: BackwardStreams without a preceding Forward")
	}
	c := &m.Config
	b, t, r := ws.b, ws.t, ws.r
	for _, g := range []struct {
		name      string
		got, want int
		rows, all int // positions per item computed, and in the stream
	}{
		{"dText", len(dText), len(ws.s.txt), ws.s.tl, t}, {"dImage", len(dImage), len(ws.s.img), ws.s.rl, r},
		{"dPooledText", len(dPooledText), b * c.BiHiddenSize, 1, 1}, {"dPooledImage", len(dPooledImage), b * c.BiHiddenSize, 1, 1},
	} {
		if g.got != 0 && g.got != g.want {
			if g.rows < g.all {
				return fmt.Errorf("vilbert: BackwardStreams got %d values in %s, want %d: the last Forward computed only the first of the %d positions of each item (set Model.AllPositions)", g.got, g.name, g.want, g.all)
			}
			return fmt.Errorf("vilbert: BackwardStreams got %d values in %s, want %d", g.got, g.name, g.want)
		}
	}
	ws.backwardReady = false
	dtxt := zeroed(&ws.dtxt, len(ws.s.txt))
	copy(dtxt, dText)
	dimg := zeroed(&ws.dimg, len(ws.s.img))
	copy(dimg, dImage)
	// One pooled gradient alone still needs the other as zeros.
	var dpt, dpv []float32
	if dPooledText != nil || dPooledImage != nil {
		dpt = zeroed(&ws.dpt, b*c.BiHiddenSize)
		copy(dpt, dPooledText)
		dpv = zeroed(&ws.dpv, b*c.BiHiddenSize)
		copy(dpv, dPooledImage)
	}
	m.backwardStreams(ws, dtxt, dimg, dpt, dpv)
	return nil
}

// backwardStreams runs the poolers, the encoder and the embeddings
// backward from gradients on the two streams (consumed) and, when dpt is
// not nil, on the pooled outputs.
func (m *Model) backwardStreams(ws *Workspace, dtxt, dimg, dpt, dpv []float32) {
	c := &m.Config
	b := ws.b
	base := &m.Bert
	sink := &ws.sink
	if dpt != nil {
		poolBackward(base.TPooler, &ws.tpool, dpt, dtxt, b, ws.s.tl, c.HiddenSize, sink)
		poolBackward(base.VPooler, &ws.vpool, dpv, dimg, b, ws.s.rl, c.VHiddenSize, sink)
	}

	// The encoder in reverse. A text layer passes a gradient down only if
	// something trainable lies below it on the text path.
	enc := &base.Encoder
	need := m.textNeedsDx()
	for k := len(enc.steps) - 1; k >= 0; k-- {
		st := enc.steps[k]
		switch st.kind {
		case 't':
			if dtxt == nil {
				continue
			}
			if st.i < c.FreezeBertLayers && !need[st.i] {
				dtxt = nil // frozen, and nothing trainable below: no work at all
				continue
			}
			m.rebuildInput(ws, k, textStream)
			dtxt = enc.Layer[st.i].Backward(&ws.text[st.i], &ws.textSc, dtxt, need[st.i], sink)
		case 'v':
			m.rebuildInput(ws, k, imageStream)
			dimg = enc.VLayer[st.i].Backward(&ws.vis[st.i], &ws.visSc, dimg, true, sink)
		case 'c':
			m.rebuildInput(ws, k, textStream)
			m.rebuildInput(ws, k, imageStream)
			dimg, dtxt = enc.CLayer[st.i].Backward(&ws.conn[st.i], &ws.connSc, &ws.visSc.FFN, &ws.textSc.FFN, dimg, dtxt, sink)
		}
	}
	if dtxt != nil && c.FreezeBertLayers == 0 {
		base.Embeddings.Backward(&ws.emb, dtxt, sink)
	}
	df, dl := base.VEmbeddings.Backward(&ws.vemb, dimg, m.InputGrads, sink)
	if m.InputGrads {
		m.inputGrads(ws, df, dl)
	}
}

// rebuildInput writes the stream-s input of encoder step k back into the
// relay buffer the forward pass wrote it to, and a later step then
// reused: the step's backward pass reads it (its QKV weight gradient).
func (m *Model) rebuildInput(ws *Workspace, k, s int) {
	enc := &m.Bert.Encoder
	if j := enc.feeder(k, s); j >= 0 {
		f, fs := enc.output(ws, enc.steps[j], s)
		f.Rebuild(fs)
	}
}

// FirstOnly reports, per stream, whether its last layer computes only
// each item's first position (see AllPositions): for a caller that
// counts the model's work (bench/vilbert's FLOPs).
func (m *Model) FirstOnly() (text, image bool) {
	return m.firstOnly(textStream), m.firstOnly(imageStream)
}

// firstOnly reports whether the last layer of stream s computes only
// each item's first position (see AllPositions).
func (m *Model) firstOnly(s int) bool {
	if m.AllPositions || m.Classifier.readsAll(s) {
		return false
	}
	enc := &m.Bert.Encoder
	// A connection layer mixes both streams; with no layer at all the
	// embeddings are the final state.
	k := enc.last[s]
	return k >= 0 && enc.steps[k].kind != 'c'
}

// textNeedsDx reports, per text layer, whether its input gradient is
// needed: true when a trainable module (the embeddings, a trainable text
// layer or any connection layer) runs before it on the text path.
func (m *Model) textNeedsDx() []bool {
	c := &m.Config
	need := make([]bool, c.NumHiddenLayers)
	below := c.FreezeBertLayers == 0
	for _, st := range m.Bert.Encoder.steps {
		switch st.kind {
		case 't':
			need[st.i] = below
			below = below || st.i >= c.FreezeBertLayers
		case 'c':
			below = true
		}
	}
	return need
}

// inputGrads maps the gradients of the model's region input back to the
// caller's layout (undoing the VMT mean region).
func (m *Model) inputGrads(ws *Workspace, df, dl []float32) {
	b, dv := ws.b, m.Config.VFeatureSize
	if m.Convention != RegionsVMT {
		ws.dfeat = append(ws.dfeat[:0], df...)
		ws.dloc = append(ws.dloc[:0], dl...)
		return
	}
	rr := ws.r
	r := rr - 1
	feat := grow(&ws.dfeat, b*r*dv)
	loc := grow(&ws.dloc, b*r*5)
	for i := 0; i < b; i++ {
		copy(feat[i*r*dv:(i+1)*r*dv], df[(i*rr+1)*dv:(i+1)*rr*dv])
		copy(loc[i*r*5:(i+1)*r*5], dl[(i*rr+1)*5:(i+1)*rr*5])
		g := df[i*rr*dv : i*rr*dv+dv]
		for j := 0; j < r; j++ {
			w := ws.vmtMask[i*r+j] / ws.nreg[i]
			if w == 0 {
				continue
			}
			row := feat[(i*r+j)*dv : (i*r+j+1)*dv]
			for k, v := range g {
				row[k] += v * w
			}
		}
	}
}

// InputGradients returns the gradients of the last Backward with respect
// to Inputs.Features and Inputs.Locations (nil unless InputGrads is set).
func (m *Model) InputGradients() (features, locations []float32) {
	if !m.InputGrads {
		return nil, nil
	}
	return m.ws.dfeat, m.ws.dloc
}

// ZeroGrad clears every gradient in place, keeping the buffers for the
// next step (torch 1.13's zero_grad(set_to_none=False)).
func (m *Model) ZeroGrad() {
	for _, p := range m.Parameters() {
		clear(p.Tensor.Grad)
	}
}

// BackwardApply is Backward with the optimizer step inside it: each
// trainable parameter's gradient is passed to apply (for example
// optim.AdamW.InBackward's Apply) as soon as it is final, in a buffer that
// the next parameter reuses, and no parameter keeps a Grad afterwards.
// The model then holds two gradient buffers (the largest is the word
// embedding table) instead of a gradient per parameter, about 0.9 GB less
// at full size. Every parameter is used once per pass, so each gradient
// is complete after its module's backward step. The first error apply
// returns stops later updates and is returned; the parameters updated
// before it stay updated.
func (m *Model) BackwardApply(dlogits []float32, apply func(*tensor.Tensor) error) error {
	if apply == nil {
		return fmt.Errorf("vilbert: BackwardApply without an update function")
	}
	return m.backwardApply(dlogits, apply, nil)
}

func (m *Model) backwardApply(dlogits []float32, apply func(*tensor.Tensor) error, rows nn.RowApply) error {
	m.Parameters()
	for _, p := range m.params {
		p.Tensor.Grad = nil // gradients kept from Backward would be stale memory
	}
	ws := m.ws
	ws.sink.StartRows(apply, rows)
	err := m.BackwardWith(ws, dlogits)
	if serr := ws.sink.Stop(); err == nil && serr != nil {
		return fmt.Errorf("vilbert: update inside backward: %w", serr)
	}
	return err
}

// BackwardStep is BackwardApply with an AdamW step in backward: its Apply
// for every parameter but the text word embeddings, whose gradient goes
// to ApplyRows on the batch's rows only. The weights are BackwardApply's
// bit for bit, without a gradient buffer the size of the vocabulary table
// (94 MB at full size).
func (m *Model) BackwardStep(dlogits []float32, step *optim.StepInBackward) error {
	if step == nil {
		return fmt.Errorf("vilbert: BackwardStep without a step")
	}
	return m.backwardApply(dlogits, step.Apply, step.ApplyRows)
}

// CrossEntropy is the mean cross-entropy of logits [B, k] against integer
// labels, and its gradient with respect to the logits (MMF's
// nn.CrossEntropyLoss, kernels.CrossEntropy).
func CrossEntropy(logits []float32, labels []int, k int) (loss float32, dlogits []float32, err error) {
	for i, y := range labels {
		if y < 0 || y >= k {
			return 0, nil, fmt.Errorf("vilbert: label %d of item %d outside 0..%d", y, i, k-1)
		}
	}
	dlogits = make([]float32, len(logits))
	l, _, err := kernels.CrossEntropy(dlogits, logits, labels, k, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("vilbert: %w", err)
	}
	return float32(l), dlogits, nil
}

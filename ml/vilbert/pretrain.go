package vilbert

import (
	"fmt"
	"math"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// PretrainHeads are vilbert-multi-task's BertPreTrainingHeads under the
// "cls." prefix: masked language modelling (a transform, then a decoder
// tied to the word embeddings plus its own bias), image–text alignment
// on the product of the pooled outputs, and masked region prediction.
// The region decoder regresses the masked region's original feature
// (VMT's visual_target 1), so it is [v_feature_size, v_hidden].
type PretrainHeads struct {
	Transform     *nn.Linear     `pt:"predictions.transform.dense"`          // [H, H]
	TransformNorm *nn.LayerNorm  `pt:"predictions.transform.LayerNorm"`      // [H]
	Bias          *tensor.Tensor `pt:"predictions.bias"`                     // [vocab]
	Alignment     *nn.Linear     `pt:"bi_seq_relationship"`                  // [2, bi]
	ImgTransform  *nn.Linear     `pt:"imagePredictions.transform.dense"`     // [Dv, Dv]
	ImgNorm       *nn.LayerNorm  `pt:"imagePredictions.transform.LayerNorm"` // [Dv]
	ImgDecoder    *nn.Linear     `pt:"imagePredictions.decoder"`             // [v_feature, Dv]

	drop float32
	word *tensor.Tensor // the tied decoder weight [vocab, H]
}

// pretrainState is what the pretraining heads keep between their passes.
type pretrainState struct {
	rows, imgRows      []int // masked token / region rows
	x, logits          []float32
	imgX, pred         []float32
	pooled, align      []float32
	dpt, dpv, dp       []float32
	dText, dImage      []float32
	dh, dimgOut, dimgX []float32
	tr, imgTr          transformState
	drop               nn.DropState
}

// Pretrainer is a Model with the pretraining heads. Its Parameters are
// the model's encoder ("bert.*") and the heads ("cls.*"); the classifier
// is not part of pretraining.
type Pretrainer struct {
	M   *Model
	Cls *PretrainHeads

	st pretrainState
}

// PretrainBatch is one masked batch. Inputs carry the masked token ids
// and the masked regions' features zeroed.
type PretrainBatch struct {
	Inputs *Inputs
	// TokenLabels [B·T] are the original ids of masked tokens and −1
	// elsewhere (ignored, as VMT's masked_lm_labels).
	TokenLabels []int32
	// RegionLabels [B·R] are 1 for masked regions and −1 elsewhere.
	RegionLabels []int32
	// RegionTargets [B·R·v_feature] are the regions' original features.
	RegionTargets []float32
	// Aligned [B] is 0 when caption and regions belong to the same meme
	// and 1 when the regions were swapped in (VMT's is_next labels).
	Aligned []int32
}

// PretrainLoss holds the three objectives; Total is their sum, as VMT
// adds them.
type PretrainLoss struct {
	Total, MLM, Region, Alignment float32
	MaskedTokens, MaskedRegions   int
}

// NewPretrainer builds fresh heads for m: weights ~ N(0,
// initializer_range²) from seed, biases 0, LayerNorm γ 1 and β 0.
func NewPretrainer(m *Model, seed uint64) *Pretrainer {
	m.AllPositions = true // the heads read every position
	c := &m.Config
	pm := &paramMaker{alloc: true, rng: tensor.NewRNG(seed), std: c.InitializerRange}
	eps := c.LayerNormEps
	h := &PretrainHeads{
		Transform: newLinear(pm, c.HiddenSize, c.HiddenSize), TransformNorm: newLayerNorm(pm, c.HiddenSize, eps),
		Bias:         pm.fill(0, c.VocabSize),
		Alignment:    newLinear(pm, c.BiHiddenSize, 2),
		ImgTransform: newLinear(pm, c.VHiddenSize, c.VHiddenSize), ImgNorm: newLayerNorm(pm, c.VHiddenSize, eps),
		ImgDecoder: newLinear(pm, c.VHiddenSize, c.VFeatureSize),
		drop:       c.HiddenDropout, word: m.Bert.Embeddings.Word,
	}
	return &Pretrainer{M: m, Cls: h}
}

// Parameters lists "bert.*" then "cls.*" (the tied decoder is the word
// embedding table and is listed once, as bert.embeddings.word_embeddings).
func (p *Pretrainer) Parameters() []NamedParam {
	var out []NamedParam
	for _, q := range p.M.Parameters() {
		if strings.HasPrefix(q.Name, "bert.") {
			out = append(out, q)
		}
	}
	return append(out, walk(p.Cls, "cls")...)
}

// StateDict returns the pretraining checkpoint in MMF's zoo layout
// ("model.bert.*", "model.cls.*", with the tied
// cls.predictions.decoder.weight written out): LoadStateDict reads it as
// a pretrained checkpoint on MMF regions and initialises the classifier.
// The arrays share memory with the model.
func (p *Pretrainer) StateDict() checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	for _, q := range p.Parameters() {
		sd["model."+q.Name] = &checkpoint.Array{Shape: append([]int(nil), q.Tensor.Shape...), Data: q.Tensor.Data}
	}
	w := p.Cls.word
	sd["model.cls.predictions.decoder.weight"] = &checkpoint.Array{Shape: append([]int(nil), w.Shape...), Data: w.Data}
	return sd
}

// Step runs the model and the three heads on pb and returns the losses;
// with backward set it then accumulates every parameter's gradient
// (Grad) for their sum. With train set, dropout is active and draws from
// rng.
func (p *Pretrainer) Step(pb *PretrainBatch, train, backward bool, rng *tensor.RNG) (PretrainLoss, error) {
	m, h, st := p.M, p.Cls, &p.st
	ws := m.ws
	c := &m.Config
	in := pb.Inputs
	if in == nil {
		return PretrainLoss{}, fmt.Errorf("vilbert pretrain: batch without inputs")
	}
	if m.Convention == RegionsVMT {
		return PretrainLoss{}, fmt.Errorf("vilbert pretrain: region prediction needs the MMF region convention, the model uses %q", m.Convention)
	}
	b, t, r := in.Batch, in.TextLen, in.Regions
	if len(pb.TokenLabels) != b*t || len(pb.RegionLabels) != b*r || len(pb.RegionTargets) != b*r*c.VFeatureSize || len(pb.Aligned) != b {
		return PretrainLoss{}, fmt.Errorf("vilbert pretrain: %d token labels, %d region labels, %d region targets, %d alignment labels; want %d, %d, %d, %d",
			len(pb.TokenLabels), len(pb.RegionLabels), len(pb.RegionTargets), len(pb.Aligned), b*t, b*r, b*r*c.VFeatureSize, b)
	}
	out, err := m.Forward(in, train, rng)
	if err != nil {
		return PretrainLoss{}, fmt.Errorf("vilbert pretrain: %w", err)
	}
	var loss PretrainLoss

	// Masked language modelling on the masked rows only.
	hd := c.HiddenSize
	st.rows = st.rows[:0]
	for i, l := range pb.TokenLabels {
		if l >= 0 {
			if int(l) >= c.VocabSize {
				return PretrainLoss{}, fmt.Errorf("vilbert pretrain: token label %d at %d outside the vocabulary of %d", l, i, c.VocabSize)
			}
			st.rows = append(st.rows, i)
		}
	}
	n := len(st.rows)
	loss.MaskedTokens = n
	var dlogits []float32
	if n > 0 {
		x := grow(&st.x, n*hd)
		for k, i := range st.rows {
			copy(x[k*hd:(k+1)*hd], out.Text[i*hd:(i+1)*hd])
		}
		hh := transform{h.Transform, h.TransformNorm}.forward(&st.tr, x, n)
		v := c.VocabSize
		logits := grow(&st.logits, n*v)
		kernels.Linear(logits, hh, h.word.Data, h.Bias.Data, n, hd, v) // the decoder tied to the word table
		labels := make([]int, n)
		for k, i := range st.rows {
			labels[k] = int(pb.TokenLabels[i])
		}
		loss.MLM, dlogits, err = CrossEntropy(logits, labels, v)
		if err != nil {
			return PretrainLoss{}, fmt.Errorf("vilbert pretrain: masked tokens: %w", err)
		}
	}

	// Alignment on dropout(pooled_t ∘ pooled_v).
	bi := c.BiHiddenSize
	pooled := grow(&st.pooled, b*bi)
	for i := range pooled {
		pooled[i] = out.PooledText[i] * out.PooledImage[i]
	}
	st.drop.Apply(pooled, h.drop, train, rng)
	alignLogits := grow(&st.align, b*2)
	h.Alignment.Apply(alignLogits, pooled, b)
	alignLabels := make([]int, b)
	for i, a := range pb.Aligned {
		alignLabels[i] = int(a)
	}
	var dalign []float32
	loss.Alignment, dalign, err = CrossEntropy(alignLogits, alignLabels, 2)
	if err != nil {
		return PretrainLoss{}, fmt.Errorf("vilbert pretrain: alignment: %w", err)
	}

	// Masked region regression: mean squared error over the masked
	// regions' feature values.
	dv, fd := c.VHiddenSize, c.VFeatureSize
	st.imgRows = st.imgRows[:0]
	for i, l := range pb.RegionLabels {
		if l == 1 {
			st.imgRows = append(st.imgRows, i)
		}
	}
	nr := len(st.imgRows)
	loss.MaskedRegions = nr
	var dpred []float32
	if nr > 0 {
		x := grow(&st.imgX, nr*dv)
		for k, i := range st.imgRows {
			copy(x[k*dv:(k+1)*dv], out.Image[i*dv:(i+1)*dv])
		}
		y := transform{h.ImgTransform, h.ImgNorm}.forward(&st.imgTr, x, nr)
		pred := grow(&st.pred, nr*fd)
		h.ImgDecoder.Apply(pred, y, nr)
		dpred = grow(&st.dimgOut, nr*fd)
		var sum float64
		scale := float32(2) / float32(nr*fd)
		for k, i := range st.imgRows {
			tgt := pb.RegionTargets[i*fd : (i+1)*fd]
			for j, pv := range pred[k*fd : (k+1)*fd] {
				d := pv - tgt[j]
				sum += float64(d) * float64(d)
				dpred[k*fd+j] = scale * d
			}
		}
		loss.Region = float32(sum / float64(nr*fd))
	}
	loss.Total = loss.MLM + loss.Alignment + loss.Region
	if math.IsNaN(float64(loss.Total)) || math.IsInf(float64(loss.Total), 0) {
		return loss, fmt.Errorf("vilbert pretrain: loss is %v (mlm %v, alignment %v, region %v)", loss.Total, loss.MLM, loss.Alignment, loss.Region)
	}
	if !backward {
		ws.backwardReady = false
		return loss, nil
	}

	// The heads' gradients accumulate in Grad: the tied decoder's word
	// table is finished only by the embeddings' backward pass.
	dText := zeroed(&st.dText, b*t*hd)
	if n > 0 {
		v := c.VocabSize
		var dw []float32
		if h.word.RequiresGrad() {
			dw = (*nn.GradSink)(nil).Grad(h.word) // dW += dlogitsᵀ·h, into the word table's Grad
		}
		dh := grow(&st.dh, n*hd)
		kernels.LinearBackward(dh, dw, (*nn.GradSink)(nil).Grad(h.Bias), dlogits, st.tr.y, h.word.Data, n, hd, v, false)
		dx := transform{h.Transform, h.TransformNorm}.backward(&st.tr, st.x, dh, n, nil)
		for k, i := range st.rows {
			nn.AddInto(dText[i*hd:(i+1)*hd], dx[k*hd:(k+1)*hd])
		}
	}
	dImage := zeroed(&st.dImage, b*r*dv)
	if nr > 0 {
		dy := grow(&st.dimgX, nr*dv)
		h.ImgDecoder.Backprop(dy, dpred, st.imgTr.y, nr, false, nil)
		dx := transform{h.ImgTransform, h.ImgNorm}.backward(&st.imgTr, st.imgX, dy, nr, nil)
		for k, i := range st.imgRows {
			nn.AddInto(dImage[i*dv:(i+1)*dv], dx[k*dv:(k+1)*dv])
		}
	}
	dp := grow(&st.dp, b*bi)
	h.Alignment.Backprop(dp, dalign, st.pooled, b, false, nil)
	st.drop.Backprop(dp, h.drop)
	dpt, dpv := grow(&st.dpt, b*bi), grow(&st.dpv, b*bi)
	for i, g := range dp {
		dpt[i], dpv[i] = g*out.PooledImage[i], g*out.PooledText[i]
	}
	if err := m.BackwardStreams(dText, dImage, dpt, dpv); err != nil {
		return loss, fmt.Errorf("vilbert pretrain: %w", err)
	}
	return loss, nil
}

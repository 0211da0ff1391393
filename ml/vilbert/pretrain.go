package vilbert

import (
	"fmt"
	"math"
	"strings"

	"mmc/ml/blas"
	"mmc/ml/checkpoint"
	"mmc/ml/tensor"
)

// PretrainHeads are vilbert-multi-task's BertPreTrainingHeads under the
// "cls." prefix: masked language modelling (a transform, then a decoder
// tied to the word embeddings plus its own bias), image–text alignment
// on the product of the pooled outputs, and masked region prediction.
// The region decoder regresses the masked region's original feature
// (VMT's visual_target 1), so it is [v_feature_size, v_hidden].
type PretrainHeads struct {
	Transform     Linear         `pt:"predictions.transform.dense"`          // [H, H]
	TransformNorm LayerNorm      `pt:"predictions.transform.LayerNorm"`      // [H]
	Bias          *tensor.Tensor `pt:"predictions.bias"`                     // [vocab]
	Alignment     Linear         `pt:"bi_seq_relationship"`                  // [2, bi]
	ImgTransform  Linear         `pt:"imagePredictions.transform.dense"`     // [Dv, Dv]
	ImgNorm       LayerNorm      `pt:"imagePredictions.transform.LayerNorm"` // [Dv]
	ImgDecoder    Linear         `pt:"imagePredictions.decoder"`             // [v_feature, Dv]

	act, imgAct     gelu
	drop            dropout
	word            *tensor.Tensor // the tied decoder weight [vocab, H]
	rows, imgRows   []int          // masked token / region rows
	x, h, logits    []float32
	imgX            []float32
	pooled, dpooled []float32
	dpt, dpv        []float32
	dText, dImage   []float32
	dh, dimgOut     []float32
}

// Pretrainer is a Model with the pretraining heads. Its Parameters are
// the model's encoder ("bert.*") and the heads ("cls.*"); the classifier
// is not part of pretraining.
type Pretrainer struct {
	M   *Model
	Cls *PretrainHeads
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
	c := &m.Config
	pm := &paramMaker{alloc: true, rng: tensor.NewRNG(seed), std: c.InitializerRange, sink: m.sink}
	eps := c.LayerNormEps
	h := &PretrainHeads{
		Transform: newLinear(pm, c.HiddenSize, c.HiddenSize), TransformNorm: newLayerNorm(pm, c.HiddenSize, eps),
		Bias:         pm.fill(0, c.VocabSize),
		Alignment:    newLinear(pm, c.BiHiddenSize, 2),
		ImgTransform: newLinear(pm, c.VHiddenSize, c.VHiddenSize), ImgNorm: newLayerNorm(pm, c.VHiddenSize, eps),
		ImgDecoder: newLinear(pm, c.VHiddenSize, c.VFeatureSize),
		drop:       dropout{p: c.HiddenDropout}, word: m.Bert.Embeddings.Word,
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
	m, h := p.M, p.Cls
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
	h.rows = h.rows[:0]
	for i, l := range pb.TokenLabels {
		if l >= 0 {
			if int(l) >= c.VocabSize {
				return PretrainLoss{}, fmt.Errorf("vilbert pretrain: token label %d at %d outside the vocabulary of %d", l, i, c.VocabSize)
			}
			h.rows = append(h.rows, i)
		}
	}
	n := len(h.rows)
	loss.MaskedTokens = n
	var dlogits []float32
	if n > 0 {
		x := grow(&h.x, n*hd)
		for k, i := range h.rows {
			copy(x[k*hd:(k+1)*hd], out.Text[i*hd:(i+1)*hd])
		}
		hh := h.TransformNorm.Forward(h.act.Forward(h.Transform.Forward(x, n)), n)
		h.h = append(h.h[:0], hh...)
		v := c.VocabSize
		logits := grow(&h.logits, n*v)
		for k := 0; k < n; k++ {
			copy(logits[k*v:(k+1)*v], h.Bias.Data)
		}
		blas.Sgemm(false, true, n, v, hd, 1, h.h, hd, h.word.Data, hd, 1, logits, v)
		labels := make([]int, n)
		for k, i := range h.rows {
			labels[k] = int(pb.TokenLabels[i])
		}
		loss.MLM, dlogits, err = CrossEntropy(logits, labels, v)
		if err != nil {
			return PretrainLoss{}, fmt.Errorf("vilbert pretrain: masked tokens: %w", err)
		}
	}

	// Alignment on dropout(pooled_t ∘ pooled_v).
	bi := c.BiHiddenSize
	pooled := grow(&h.pooled, b*bi)
	for i := range pooled {
		pooled[i] = out.PooledText[i] * out.PooledImage[i]
	}
	h.drop.apply(pooled, train, rng)
	alignLogits := h.Alignment.Forward(pooled, b)
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
	h.imgRows = h.imgRows[:0]
	for i, l := range pb.RegionLabels {
		if l == 1 {
			h.imgRows = append(h.imgRows, i)
		}
	}
	nr := len(h.imgRows)
	loss.MaskedRegions = nr
	var dpred []float32
	if nr > 0 {
		x := grow(&h.imgX, nr*dv)
		for k, i := range h.imgRows {
			copy(x[k*dv:(k+1)*dv], out.Image[i*dv:(i+1)*dv])
		}
		pred := h.ImgDecoder.Forward(h.ImgNorm.Forward(h.imgAct.Forward(h.ImgTransform.Forward(x, nr)), nr), nr)
		dpred = grow(&h.dimgOut, nr*fd)
		var sum float64
		scale := float32(2) / float32(nr*fd)
		for k, i := range h.imgRows {
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
		m.backwardReady = false
		return loss, nil
	}

	dText := zeroed(&h.dText, b*t*hd)
	if n > 0 {
		v := c.VocabSize
		if h.word.RequiresGrad() {
			// The tied decoder: dW += dlogitsᵀ·h, into the word table's Grad.
			blas.Sgemm(true, false, v, hd, n, 1, dlogits, v, h.h, hd, 1, gradOf(h.word), hd)
		}
		db := gradOf(h.Bias)
		for k := 0; k < n; k++ {
			addInto(db, dlogits[k*v:(k+1)*v])
		}
		dh := grow(&h.dh, n*hd)
		blas.Sgemm(false, false, n, hd, v, 1, dlogits, v, h.word.Data, hd, 0, dh, hd)
		dx := h.Transform.Backward(h.act.Backward(h.TransformNorm.Backward(dh)), true)
		for k, i := range h.rows {
			addInto(dText[i*hd:(i+1)*hd], dx[k*hd:(k+1)*hd])
		}
	}
	dImage := zeroed(&h.dImage, b*r*dv)
	if nr > 0 {
		dx := h.ImgTransform.Backward(h.imgAct.Backward(h.ImgNorm.Backward(h.ImgDecoder.Backward(dpred, true))), true)
		for k, i := range h.imgRows {
			addInto(dImage[i*dv:(i+1)*dv], dx[k*dv:(k+1)*dv])
		}
	}
	dp := h.Alignment.Backward(dalign, true)
	h.drop.backward(dp)
	dpt, dpv := grow(&h.dpt, b*bi), grow(&h.dpv, b*bi)
	for i, g := range dp {
		dpt[i], dpv[i] = g*out.PooledImage[i], g*out.PooledText[i]
	}
	if err := m.BackwardStreams(dText, dImage, dpt, dpv); err != nil {
		return loss, fmt.Errorf("vilbert pretrain: %w", err)
	}
	return loss, nil
}

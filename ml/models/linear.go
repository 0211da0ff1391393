package models

import (
	"fmt"
	"math"

	"mmc/ml/batch"
	"mmc/ml/tensor"
	"mmc/ml/train"
)

// PooledLinear is logistic regression (two logits) on pooled inputs: the
// masked mean of the region features and a bag of words of the token ids
// hashed into TextBuckets counts, divided by the square root of the
// number of words. Either modality can be switched off, which makes it the
// linear unimodal baseline (text only or image only) and a small real
// model for exercising the training loop. Special tokens ([CLS] 101,
// [SEP] 102, [PAD] 0) are skipped so the text vector depends on words only.
type PooledLinear struct {
	UseText, UseImage bool
	TextBuckets       int
	FeatDim           int

	W *tensor.Tensor // [2, in]
	B *tensor.Tensor // [2]
}

// NewPooledLinear returns the model with weights drawn from N(0, 0.02)
// by a generator seeded with seed and a zero bias.
func NewPooledLinear(useText, useImage bool, textBuckets, featDim int, seed uint64) (*PooledLinear, error) {
	if !useText && !useImage {
		return nil, fmt.Errorf("pooled linear model: neither text nor image input enabled")
	}
	if useText && textBuckets <= 0 {
		return nil, fmt.Errorf("pooled linear model: text_buckets %d, want > 0", textBuckets)
	}
	if useImage && featDim <= 0 {
		return nil, fmt.Errorf("pooled linear model: feature width %d, want > 0", featDim)
	}
	m := &PooledLinear{UseText: useText, UseImage: useImage, TextBuckets: textBuckets, FeatDim: featDim}
	m.W = tensor.Param(2, m.inputs())
	m.B = tensor.Param(2)
	rng := tensor.NewRNG(seed)
	for i := range m.W.Data {
		m.W.Data[i] = 0.02 * rng.NormFloat32()
	}
	return m, nil
}

func (m *PooledLinear) inputs() int {
	n := 0
	if m.UseText {
		n += m.TextBuckets
	}
	if m.UseImage {
		n += m.FeatDim
	}
	return n
}

// Params returns the weight and the bias.
func (m *PooledLinear) Params() []train.Param {
	return []train.Param{{Name: "classifier.weight", Tensor: m.W}, {Name: "classifier.bias", Tensor: m.B}}
}

// Forward computes logits [B, 2]; the model has no dropout, so train is
// ignored.
func (m *PooledLinear) Forward(b *batch.Batch, train bool) *tensor.Tensor {
	in := m.inputs()
	x := make([]float32, b.Size*in)
	for i := range b.Size {
		row := x[i*in : (i+1)*in]
		off := 0
		if m.UseText {
			var n float32
			for t := range b.SeqLen {
				id := b.InputIDs[i*b.SeqLen+t]
				if b.TextMask[i*b.SeqLen+t] == 0 || id == 0 || id == 101 || id == 102 {
					continue
				}
				row[int(uint32(id)*2654435761%uint32(m.TextBuckets))]++
				n++
			}
			if n > 0 {
				for j := range m.TextBuckets {
					row[j] /= float32(math.Sqrt(float64(n)))
				}
			}
			off = m.TextBuckets
		}
		if m.UseImage {
			if b.FeatDim != m.FeatDim {
				panic(fmt.Sprintf("PooledLinear: batch feature width %d, model %d", b.FeatDim, m.FeatDim))
			}
			var n float32
			for r := range b.Regions {
				if b.ImageMask[i*b.Regions+r] == 0 {
					continue
				}
				n++
				f := b.Features[(i*b.Regions+r)*b.FeatDim:][:b.FeatDim]
				for j, v := range f {
					row[off+j] += v
				}
			}
			if n > 0 {
				for j := range m.FeatDim {
					row[off+j] /= n
				}
			}
		}
	}
	return tensor.Linear(tensor.New(x, b.Size, in), m.W, m.B)
}

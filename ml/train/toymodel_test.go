package train

import (
	"math"

	"mmc/ml/batch"
	"mmc/ml/tensor"
)

// toyLinear is the loop tests' model: logistic regression on the mean
// of the real regions' features and the caption's words hashed into
// buckets (the shape of models.PooledLinear, which cannot be imported
// here without a cycle).
type toyLinear struct {
	buckets, featDim int
	W, B             *tensor.Tensor
}

func newToyLinear(buckets, featDim int, seed uint64) *toyLinear {
	m := &toyLinear{buckets: buckets, featDim: featDim, W: tensor.Param(2, buckets+featDim), B: tensor.Param(2)}
	rng := tensor.NewRNG(seed)
	for i := range m.W.Data {
		m.W.Data[i] = 0.02 * rng.NormFloat32()
	}
	return m
}

func (m *toyLinear) Params() []Param {
	return []Param{{Name: "classifier.weight", Tensor: m.W}, {Name: "classifier.bias", Tensor: m.B}}
}

func (m *toyLinear) Forward(b *batch.Batch, _ bool) *tensor.Tensor {
	in := m.buckets + m.featDim
	x := make([]float32, b.Size*in)
	for i := range b.Size {
		row := x[i*in : (i+1)*in]
		var words float32
		for t := range b.SeqLen {
			id := b.InputIDs[i*b.SeqLen+t]
			if b.TextMask[i*b.SeqLen+t] == 0 || id == 101 || id == 102 {
				continue
			}
			row[int(uint32(id)*2654435761%uint32(m.buckets))]++
			words++
		}
		for j := range m.buckets {
			row[j] /= float32(math.Sqrt(float64(max(words, 1))))
		}
		var n float32
		for r := range b.Regions {
			if b.ImageMask[i*b.Regions+r] == 0 {
				continue
			}
			n++
			for j, v := range b.Features[(i*b.Regions+r)*b.FeatDim:][:b.FeatDim] {
				row[m.buckets+j] += v
			}
		}
		for j := range m.featDim {
			row[m.buckets+j] /= max(n, 1)
		}
	}
	return tensor.Linear(tensor.New(x, b.Size, in), m.W, m.B)
}

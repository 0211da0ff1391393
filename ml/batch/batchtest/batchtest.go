// Package batchtest makes small labelled example sets for tests of
// training loops and models.
package batchtest

import (
	"math/rand/v2"
	"strconv"

	"mmc/ml/batch"
)

// Toy is a labelled set a linear model can learn: six tokens ([CLS], a
// word 2000 or 2001, a filler word, [SEP], two pads) and one to three
// real regions of five features. The label is 1 when the first feature
// of the real regions plus the word's vote is positive; a noise fraction
// of labels is flipped, so validation AUROC stays below 1 and changes
// from epoch to epoch.
func Toy(n int, seed uint64, noise float64) []*batch.Example {
	r := rand.New(rand.NewPCG(seed, 1))
	const t, regs, d = 6, 3, 5
	out := make([]*batch.Example, n)
	for i := range out {
		e := &batch.Example{ID: strconv.Itoa(int(seed)*100000 + i), FeatDim: d,
			InputIDs: make([]int32, t), SegmentIDs: make([]int32, t), TextMask: make([]float32, t),
			Features: make([]float32, regs*d), Locations: make([]float32, regs*5), ImageMask: make([]float32, regs)}
		word := int32(2000 + r.IntN(2))
		e.InputIDs[0], e.InputIDs[1], e.InputIDs[2], e.InputIDs[3] = 101, word, int32(3000+r.IntN(50)), 102
		for k := range 4 {
			e.TextMask[k] = 1
		}
		real := 1 + r.IntN(regs)
		var s float64
		for k := range real {
			e.ImageMask[k] = 1
			for j := range d {
				e.Features[k*d+j] = float32(r.NormFloat64())
			}
			s += float64(e.Features[k*d])
		}
		score := s/float64(real) + 0.8*float64(2*(word-2000)-1)
		if r.Float64() < noise {
			score = -score
		}
		if score > 0 {
			e.Label = 1
		}
		out[i] = e
	}
	return out
}

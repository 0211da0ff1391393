package vilbert

import (
	"fmt"

	"mmc/ml/batch"
	"mmc/ml/tensor"
)

// MaskOptions sets the pretraining corruption of a batch.
type MaskOptions struct {
	TokenProb    float32 // share of real tokens to predict (BERT: 0.15)
	RegionProb   float32 // share of real regions to predict (VMT: 0.15)
	NegativeProb float32 // share of items given another item's regions (VMT: 0.5)
	// Special ids: never masked ([CLS], [SEP], [PAD]), and the [MASK] id.
	ClsID, SepID, PadID, MaskID int32
	VocabSize                   int
}

// MaskBatch corrupts a collated batch for pretraining, drawing from rng;
// the batch itself is not modified. Tokens: each real token other than
// [CLS]/[SEP] is chosen with TokenProb and then replaced by [MASK] (80
// %), a random vocabulary id (10 %) or kept (10 %), as BERT does. Image–
// text alignment: with NegativeProb an item's regions are replaced by
// those of another item of the batch (needs two or more items). Regions:
// each real region is chosen with RegionProb and its features zeroed;
// the target is its original feature.
func MaskBatch(b *batch.Batch, o MaskOptions, rng *tensor.RNG) (*PretrainBatch, error) {
	if rng == nil {
		return nil, fmt.Errorf("vilbert pretrain masking: no random generator")
	}
	if o.VocabSize <= 0 || o.MaskID < 0 || int(o.MaskID) >= o.VocabSize {
		return nil, fmt.Errorf("vilbert pretrain masking: [MASK] id %d outside the vocabulary of %d", o.MaskID, o.VocabSize)
	}
	n, t, r, d := b.Size, b.SeqLen, b.Regions, b.FeatDim
	if len(b.InputIDs) != n*t || len(b.Features) != n*r*d || len(b.Locations) != n*r*5 || len(b.ImageMask) != n*r {
		return nil, fmt.Errorf("vilbert pretrain masking: batch arrays do not match its %d×%d tokens and %d×%d regions of %d", n, t, n, r, d)
	}
	pb := &PretrainBatch{
		TokenLabels:   make([]int32, n*t),
		RegionLabels:  make([]int32, n*r),
		RegionTargets: make([]float32, n*r*d),
		Aligned:       make([]int32, n),
	}
	ids := append([]int32(nil), b.InputIDs...)
	for i, id := range ids {
		pb.TokenLabels[i] = -1
		real := b.TextMask == nil || b.TextMask[i] > 0
		if !real || id == o.ClsID || id == o.SepID || id == o.PadID || rng.Float32() >= o.TokenProb {
			continue
		}
		pb.TokenLabels[i] = id
		switch u := rng.Float32(); {
		case u < 0.8:
			ids[i] = o.MaskID
		case u < 0.9:
			ids[i] = int32(rng.Uint64() % uint64(o.VocabSize))
		}
	}

	// Alignment negatives: item i shows the regions of item src[i].
	feat := make([]float32, len(b.Features))
	loc := make([]float32, len(b.Locations))
	imask := make([]float32, len(b.ImageMask))
	for i := 0; i < n; i++ {
		src := i
		if n > 1 && rng.Float32() < o.NegativeProb {
			src = (i + 1 + int(rng.Uint64()%uint64(n-1))) % n
			pb.Aligned[i] = 1
		}
		copy(feat[i*r*d:(i+1)*r*d], b.Features[src*r*d:(src+1)*r*d])
		copy(loc[i*r*5:(i+1)*r*5], b.Locations[src*r*5:(src+1)*r*5])
		copy(imask[i*r:(i+1)*r], b.ImageMask[src*r:(src+1)*r])
	}
	copy(pb.RegionTargets, feat)
	for i := range imask {
		pb.RegionLabels[i] = -1
		if imask[i] == 0 || rng.Float32() >= o.RegionProb {
			continue
		}
		pb.RegionLabels[i] = 1
		clear(feat[i*d : (i+1)*d])
	}
	pb.Inputs = &Inputs{Batch: n, TextLen: t, Regions: r, InputIDs: ids, SegmentIDs: b.SegmentIDs,
		TextMask: b.TextMask, Features: feat, Locations: loc, ImageMask: imask}
	return pb, nil
}

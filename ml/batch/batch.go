// Package batch turns per-meme model inputs (token ids from the
// tokenizer, padded region features with their 5-d locations) into the
// padded, row-major arrays a multimodal model consumes for a batch.
//
// Shapes, with B examples, T tokens, R regions of width D:
//
//	InputIDs, SegmentIDs, TextMask  [B, T]   (int32, int32, float32 0/1)
//	Features                         [B, R, D] float32
//	Locations                        [B, R, 5] float32 (x1/W, y1/H, x2/W, y2/H, area/(W·H))
//	ImageMask                        [B, R]   float32 0/1
//
// Every example of a batch must already have the same T, R and D (the
// tokenizer pads to max_seq_length and region padding to max_features);
// Collate checks this rather than re-padding, so a mismatch in the data
// preparation surfaces with the meme id at fault.
package batch

import (
	"fmt"
)

// NoLabel marks an example without a label (challenge test splits).
const NoLabel = -1

// Example is one meme's model input.
type Example struct {
	ID    string
	Label int // 0, 1 or NoLabel

	InputIDs   []int32   // [T]
	SegmentIDs []int32   // [T]
	TextMask   []float32 // [T], 1 for real tokens

	Features  []float32 // [R*D]
	Locations []float32 // [R*5]
	ImageMask []float32 // [R], 1 for real regions
	FeatDim   int       // D
}

// SeqLen is T, the padded token count.
func (e *Example) SeqLen() int { return len(e.InputIDs) }

// NumRegions is R, the padded region count.
func (e *Example) NumRegions() int { return len(e.ImageMask) }

// Validate checks that the example's slices agree with each other.
func (e *Example) Validate() error {
	t := len(e.InputIDs)
	if len(e.SegmentIDs) != t || len(e.TextMask) != t {
		return fmt.Errorf("example %q: %d token ids, %d segment ids, %d mask values", e.ID, t, len(e.SegmentIDs), len(e.TextMask))
	}
	r := len(e.ImageMask)
	if r > 0 && e.FeatDim <= 0 {
		return fmt.Errorf("example %q: %d regions but feature width %d", e.ID, r, e.FeatDim)
	}
	if len(e.Features) != r*e.FeatDim {
		return fmt.Errorf("example %q: %d feature values, want %d regions × %d", e.ID, len(e.Features), r, e.FeatDim)
	}
	if len(e.Locations) != r*5 {
		return fmt.Errorf("example %q: %d location values, want %d regions × 5", e.ID, len(e.Locations), r)
	}
	if e.Label != 0 && e.Label != 1 && e.Label != NoLabel {
		return fmt.Errorf("example %q: label %d, want 0, 1 or none", e.ID, e.Label)
	}
	return nil
}

// Batch is a collated group of examples in row-major arrays.
type Batch struct {
	IDs    []string
	Labels []int // NoLabel where unknown

	Size    int // B
	SeqLen  int // T
	Regions int // R
	FeatDim int // D

	InputIDs   []int32   // [B*T]
	SegmentIDs []int32   // [B*T]
	TextMask   []float32 // [B*T]
	Features   []float32 // [B*R*D]
	Locations  []float32 // [B*R*5]
	ImageMask  []float32 // [B*R]

	// Step is the global optimisation step this batch feeds (0-based) in
	// training and -1 in evaluation; Seed is derived from the run's seed
	// and Step so a model can draw its dropout masks reproducibly, also
	// after a resume.
	Step int
	Seed uint64
}

// Labelled reports whether every example in the batch has a label.
func (b *Batch) Labelled() bool {
	for _, y := range b.Labels {
		if y == NoLabel {
			return false
		}
	}
	return true
}

// Collate copies examples into one Batch. All examples must share T, R
// and D; the error names the first example that does not.
func Collate(examples []*Example) (*Batch, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("collate: empty batch")
	}
	first := examples[0]
	t, r, d := first.SeqLen(), first.NumRegions(), first.FeatDim
	n := len(examples)
	b := &Batch{
		IDs:        make([]string, n),
		Labels:     make([]int, n),
		Size:       n,
		SeqLen:     t,
		Regions:    r,
		FeatDim:    d,
		InputIDs:   make([]int32, n*t),
		SegmentIDs: make([]int32, n*t),
		TextMask:   make([]float32, n*t),
		Features:   make([]float32, n*r*d),
		Locations:  make([]float32, n*r*5),
		ImageMask:  make([]float32, n*r),
		Step:       -1,
	}
	for i, e := range examples {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("collate: %w", err)
		}
		if e.SeqLen() != t || e.NumRegions() != r || e.FeatDim != d {
			return nil, fmt.Errorf("collate: example %q has %d tokens, %d regions of width %d; example %q has %d, %d, %d (pad all examples alike)",
				e.ID, e.SeqLen(), e.NumRegions(), e.FeatDim, first.ID, t, r, d)
		}
		b.IDs[i] = e.ID
		b.Labels[i] = e.Label
		copy(b.InputIDs[i*t:], e.InputIDs)
		copy(b.SegmentIDs[i*t:], e.SegmentIDs)
		copy(b.TextMask[i*t:], e.TextMask)
		copy(b.Features[i*r*d:], e.Features)
		copy(b.Locations[i*r*5:], e.Locations)
		copy(b.ImageMask[i*r:], e.ImageMask)
	}
	return b, nil
}

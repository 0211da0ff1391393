package batch

import (
	"fmt"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/text"
)

// Source turns memes into model inputs on demand: the meme's text
// encoding (tokenised beforehand, parallel to Memes) and its region
// features, read from Features by MMF's feature path of the image
// ("img/02345.png" → "02345") and padded to MaxFeatures regions with
// MMF's 5-d locations. It is safe for concurrent use when Features is.
type Source struct {
	Memes       []memes.Meme
	Encodings   []text.Encoding // parallel to Memes
	Features    features.Reader // nil for a text-only model
	MaxFeatures int             // regions per image after padding; 0 means 100
	// FeatDim is the feature width used for a text-only source (no
	// Features): the batch then holds MaxFeatures empty regions of
	// this width, so models that only read text can ignore them.
	FeatDim int
}

// Len is the number of memes.
func (s *Source) Len() int { return len(s.Memes) }

// Example builds the input of meme i.
func (s *Source) Example(i int) (*Example, error) {
	if i < 0 || i >= len(s.Memes) {
		return nil, fmt.Errorf("meme index %d out of range [0, %d)", i, len(s.Memes))
	}
	if len(s.Encodings) != len(s.Memes) {
		return nil, fmt.Errorf("%d encodings for %d memes", len(s.Encodings), len(s.Memes))
	}
	m, enc := s.Memes[i], s.Encodings[i]
	label := NoLabel
	if m.Label != nil {
		label = *m.Label
	}
	e := &Example{ID: string(m.ID), Label: label, InputIDs: enc.IDs, SegmentIDs: enc.SegmentIDs, TextMask: make([]float32, len(enc.InputMask))}
	for j, v := range enc.InputMask {
		e.TextMask[j] = float32(v)
	}
	maxF := s.MaxFeatures
	if maxF <= 0 {
		maxF = features.DefaultMaxFeatures
	}
	if s.Features == nil {
		d := max(s.FeatDim, 1)
		e.FeatDim = d
		e.Features = make([]float32, maxF*d)
		e.Locations = make([]float32, maxF*5)
		e.ImageMask = make([]float32, maxF)
		return e, e.Validate()
	}
	fid := features.FeaturePath(m.Img)
	rec, err := s.Features.Get(fid)
	if err != nil {
		return nil, fmt.Errorf("meme %s (%s): %w", m.ID, m.Img, err)
	}
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("meme %s: %w", m.ID, err)
	}
	if rec.NumBoxes == 0 {
		return nil, fmt.Errorf("meme %s: image %q has no regions in the feature store", m.ID, fid)
	}
	e.FeatDim = rec.Dim
	e.Features, e.Locations, e.ImageMask = features.PadRegions(rec, maxF)
	return e, e.Validate()
}

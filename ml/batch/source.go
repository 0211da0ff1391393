package batch

import (
	"fmt"
	"math"

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
	// FeatDim is the model's feature width. For a text-only source (no
	// Features) the batch holds MaxFeatures empty regions of this width,
	// so models that only read text can ignore them; otherwise every
	// record must have this width (0: not checked).
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
	if err := s.check(rec); err != nil {
		return nil, fmt.Errorf("meme %s: features of image %q in %s: %w", m.ID, fid, storeName(s.Features), err)
	}
	e.FeatDim = rec.Dim
	e.Features, e.Locations, e.ImageMask = features.PadRegions(rec, maxF)
	return e, e.Validate()
}

// storeName is how messages name the feature store: its String (the
// stores give their kind and path), or its type.
func storeName(r features.Reader) string {
	if st, ok := r.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("the feature store (%T)", r)
}

// check is what a record must satisfy before it reaches a model: the
// model's width, 0 < num_boxes <= the rows stored, finite features and
// boxes, and boxes inside the image. A bad record would otherwise show
// up steps later as a non-finite loss or a padding error.
func (s *Source) check(rec *features.Record) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	if s.FeatDim > 0 && rec.Dim != s.FeatDim {
		return fmt.Errorf("field features: width %d, the model takes %d (features from another extractor?)", rec.Dim, s.FeatDim)
	}
	if rec.NumBoxes <= 0 {
		return fmt.Errorf("field num_boxes: %d regions, want at least 1", rec.NumBoxes)
	}
	for i, v := range rec.Features {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("field features: value %v at region %d, column %d (not finite)", v, i/rec.Dim, i%rec.Dim)
		}
	}
	if rec.ImageW <= 0 || rec.ImageH <= 0 {
		return fmt.Errorf("fields image_width, image_height: %d×%d, want positive sizes", rec.ImageW, rec.ImageH)
	}
	// Detectors clip boxes to the image; allow one pixel of rounding.
	w, h := float64(rec.ImageW)+1, float64(rec.ImageH)+1
	for r := 0; r < rec.NumBoxes; r++ {
		b := rec.Boxes[4*r : 4*r+4]
		x1, y1, x2, y2 := float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3])
		ok := x1 >= -1 && y1 >= -1 && x1 <= x2 && y1 <= y2 && x2 <= w && y2 <= h
		if !ok { // NaN fails every comparison
			return fmt.Errorf("field bbox: region %d is (%g, %g, %g, %g), not inside the %d×%d image", r, x1, y1, x2, y2, rec.ImageW, rec.ImageH)
		}
	}
	return nil
}

package synth

import (
	"fmt"
	"math/rand/v2"

	"mmc/features"
)

// Detector is the synthetic stand-in for a Faster R-CNN region extractor:
// it turns a scene description into one region per object (in the scene's
// object order, like a detector's confidence order) followed by context
// regions (the whole image, then random crops); WholeImageFirst moves the
// whole image in front. Codes are drawn once from
// DetectorParams.Seed for the full palette, so a detector describes the
// same concept with the same code whatever the data set's size.
type Detector struct {
	p           DetectorParams
	colours     [][]float32 // [len(Palette)][Dim]
	shapes      [][]float32 // [len(Shapes)][Dim]
	concepts    [][]float32 // [len(Palette)*len(Shapes)][Dim]
	sizes       [][]float32 // [len(Sizes)][Dim]
	backgrounds [][]float32 // [len(Backgrounds)][Dim]
	contexts    [][]float32 // [2][Dim]: whole image, crop
}

// BackgroundClass is the detector class written for context regions; an
// object region's class is colour*len(Shapes)+shape.
var BackgroundClass = int64(len(Palette) * len(Shapes))

// NewDetector draws the codes.
func NewDetector(p DetectorParams) (*Detector, error) {
	if p.Dim < 1 {
		return nil, fmt.Errorf("synthetic detector: dim = %d: want ≥ 1", p.Dim)
	}
	if p.ContextRegions < 0 {
		return nil, fmt.Errorf("synthetic detector: context_regions = %d: want ≥ 0", p.ContextRegions)
	}
	rng := rand.New(rand.NewPCG(uint64(p.Seed), 0xc0de))
	codes := func(n int) [][]float32 {
		out := make([][]float32, n)
		for i := range out {
			out[i] = make([]float32, p.Dim)
			for j := range out[i] {
				out[i][j] = float32(rng.NormFloat64())
			}
		}
		return out
	}
	return &Detector{
		p:           p,
		colours:     codes(len(Palette)),
		shapes:      codes(len(Shapes)),
		concepts:    codes(len(Palette) * len(Shapes)),
		sizes:       codes(len(Sizes)),
		backgrounds: codes(len(Backgrounds)),
		contexts:    codes(2),
	}, nil
}

// NumRegions is the number of regions per image for a scene with k objects.
func (d *Detector) NumRegions(k int) int { return k + d.p.ContextRegions }

// Features computes the regions of one scene. The noise is seeded by the
// detector seed and the scene id, so memes that show the same scene get
// identical features.
func (d *Detector) Features(s *Scene) (*features.Record, error) {
	dim := d.p.Dim
	k := len(s.Objects)
	n := d.NumRegions(k)
	rec := &features.Record{
		ID: string(s.ID), Dim: dim, NumBoxes: n,
		Features: make([]float32, n*dim),
		Boxes:    make([]float32, n*4),
		ImageW:   s.Width, ImageH: s.Height,
		Objects: make([]int64, n),
	}
	signals := make([][]float32, k)
	for i, o := range s.Objects {
		c, sh, sz := colourIndex(Palette, o.Colour), indexOf(Shapes, o.Shape), indexOf(Sizes, o.Size)
		if c < 0 || sh < 0 || sz < 0 {
			return nil, fmt.Errorf("scene %s object %d: unknown attribute in %+v", s.ID, i, o)
		}
		sig := make([]float32, dim)
		axpy(sig, float32(d.p.ColourWeight), d.colours[c])
		axpy(sig, float32(d.p.ShapeWeight), d.shapes[sh])
		axpy(sig, float32(d.p.ConceptWeight), d.concepts[c*len(Shapes)+sh])
		axpy(sig, float32(d.p.SizeWeight), d.sizes[sz])
		signals[i] = sig
		copy(rec.Features[i*dim:], sig)
		for j := range 4 {
			rec.Boxes[i*4+j] = float32(o.Box[j])
		}
		rec.Objects[i] = int64(c*len(Shapes) + sh)
	}
	bg := colourIndex(Backgrounds, s.Background)
	if bg < 0 {
		return nil, fmt.Errorf("scene %s: unknown background %q", s.ID, s.Background)
	}
	rng := rand.New(rand.NewPCG(uint64(d.p.Seed), uint64(s.SceneID)))
	for r := 0; r < d.p.ContextRegions; r++ {
		box := [4]int{0, 0, s.Width, s.Height}
		kind := 0
		if r > 0 {
			kind = 1
			w := s.Width * (40 + rng.IntN(41)) / 100
			h := s.Height * (40 + rng.IntN(41)) / 100
			x, y := rng.IntN(s.Width-w+1), rng.IntN(s.Height-h+1)
			box = [4]int{x, y, x + w, y + h}
		}
		row := rec.Features[(k+r)*dim : (k+r+1)*dim]
		axpy(row, 1, d.backgrounds[bg])
		axpy(row, 1, d.contexts[kind])
		for i, o := range s.Objects {
			if f := overlapFraction(box, o.Box); f > 0 {
				axpy(row, float32(d.p.ContextMix*f), signals[i])
			}
		}
		for j := range 4 {
			rec.Boxes[(k+r)*4+j] = float32(box[j])
		}
		rec.Objects[k+r] = BackgroundClass
	}
	if d.p.WholeImageFirst && d.p.ContextRegions > 0 {
		rotateRegion(rec, k)
	}
	if d.p.Noise > 0 {
		for i := range rec.Features {
			rec.Features[i] += float32(d.p.Noise * rng.NormFloat64())
		}
	}
	return rec, rec.Validate()
}

// rotateRegion moves region i to the front, shifting regions 0..i-1 back.
func rotateRegion(rec *features.Record, i int) {
	rot := func(v []float32, w int) {
		tmp := append([]float32(nil), v[i*w:(i+1)*w]...)
		copy(v[w:(i+1)*w], v[:i*w])
		copy(v[:w], tmp)
	}
	rot(rec.Features, rec.Dim)
	rot(rec.Boxes, 4)
	obj := rec.Objects[i]
	copy(rec.Objects[1:i+1], rec.Objects[:i])
	rec.Objects[0] = obj
}

// axpy adds a*x to y.
func axpy(y []float32, a float32, x []float32) {
	for i, v := range x {
		y[i] += a * v
	}
}

// overlapFraction is the share of obj's area that lies inside box.
func overlapFraction(box, obj [4]int) float64 {
	w := min(box[2], obj[2]) - max(box[0], obj[0])
	h := min(box[3], obj[3]) - max(box[1], obj[1])
	if w <= 0 || h <= 0 {
		return 0
	}
	area := (obj[2] - obj[0]) * (obj[3] - obj[1])
	return float64(w*h) / float64(area)
}

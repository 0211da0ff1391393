// Package synth generates the synthetic Hateful-Memes-style data set that
// every pipeline can run on without downloads: scenes of coloured shapes,
// captions that name one colour+shape concept, and a label that is 1 iff
// the named concept is one of the scene's objects. Memes come in quads of
// benign confounders, so that text alone and image alone carry no signal
// and only grounding the caption in the image predicts the label. A
// synthetic detector turns each scene into region features in the shape
// MMF's Faster R-CNN features have.
//
// Everything is deterministic given Params.Seed.
package synth

import (
	"fmt"
	"strings"
)

// Split names one output split and its size.
type Split struct {
	Name     string `yaml:"name" json:"name"`
	Memes    int    `yaml:"memes" json:"memes"`       // a multiple of 4 (memes come in confounder quads)
	Labelled bool   `yaml:"labelled" json:"labelled"` // false writes no "label" key, like the challenge's test files
}

// Params sets the size and the difficulty of the synthetic set. The zero
// value is not usable; start from DefaultParams.
type Params struct {
	Seed   int64   `yaml:"seed" json:"seed"`
	Splits []Split `yaml:"splits" json:"splits"`

	// Concept space: the caption names one of NumColours × NumShapes
	// concepts. Fewer concepts are easier to learn.
	NumColours int `yaml:"num_colours" json:"num_colours"`
	NumShapes  int `yaml:"num_shapes" json:"num_shapes"`
	// ObjectsPerImage distinct concepts are drawn in every scene.
	ObjectsPerImage int `yaml:"objects_per_image" json:"objects_per_image"`
	// HardNegatives is the fraction of negative captions that share the
	// colour or the shape of a present object (the rest are any absent
	// concept). Higher is harder: the model must bind colour to shape.
	HardNegatives float64 `yaml:"hard_negatives" json:"hard_negatives"`
	// Templates are the caption patterns; {colour} and {shape} are
	// replaced by the concept's words. Few, short templates keep the
	// vocabulary small.
	Templates []string `yaml:"templates" json:"templates"`

	// Image geometry in pixels.
	ImageWidth  int `yaml:"image_width" json:"image_width"`
	ImageHeight int `yaml:"image_height" json:"image_height"`

	Detector DetectorParams `yaml:"detector" json:"detector"`
}

// DetectorParams sets the synthetic detector's output. A region's feature
// is a weighted sum of fixed random codes (one per colour, shape,
// colour+shape pair, size), plus Gaussian noise of standard deviation
// Noise per dimension; every code has unit variance per dimension.
type DetectorParams struct {
	Seed int64 `yaml:"seed" json:"seed"` // seeds the codes; the same seed gives the same "detector"
	Dim  int   `yaml:"dim" json:"dim"`   // feature width (2048 like fc6)
	// ContextRegions are added after the object regions: the first is the
	// whole image, the others random crops. They carry the background and
	// a faint mix of the objects they overlap, as a real detector's
	// low-confidence boxes do.
	ContextRegions int     `yaml:"context_regions" json:"context_regions"`
	ColourWeight   float64 `yaml:"colour_weight" json:"colour_weight"`
	ShapeWeight    float64 `yaml:"shape_weight" json:"shape_weight"`
	ConceptWeight  float64 `yaml:"concept_weight" json:"concept_weight"` // the joint colour+shape code
	SizeWeight     float64 `yaml:"size_weight" json:"size_weight"`
	ContextMix     float64 `yaml:"context_mix" json:"context_mix"` // weight of overlapped objects in context regions
	Noise          float64 `yaml:"noise" json:"noise"`
	// WholeImageFirst moves the whole-image region in front of the
	// objects, like vilbert-multi-task's global feature (ViLBERT's head
	// pools region 0). Off by default: MMF's order (objects first) is
	// what real detectron.lmdb files have, and a small co-attention
	// model learned it no slower.
	WholeImageFirst bool `yaml:"whole_image_first" json:"whole_image_first"`
}

// DefaultParams is the embedded default: about 3,000 memes over a small
// concept space (3 colours × 3 shapes, 2 objects per image, 2 context
// regions) with low noise, sized so a small ViLBERT can learn it.
func DefaultParams() Params {
	return Params{
		Seed: 1234,
		Splits: []Split{
			{Name: "train", Memes: 2400, Labelled: true},
			{Name: "dev_seen", Memes: 200, Labelled: true},
			{Name: "test_seen", Memes: 400, Labelled: true},
			{Name: "dev_unseen", Memes: 100, Labelled: true},
			{Name: "test_unseen", Memes: 100, Labelled: false},
		},
		NumColours:      3,
		NumShapes:       3,
		ObjectsPerImage: 2,
		HardNegatives:   0.5,
		Templates:       []string{"look at the {colour} {shape}", "i love the {colour} {shape}", "{colour} {shape} people"},
		ImageWidth:      224,
		ImageHeight:     224,
		Detector: DetectorParams{
			Seed:           99,
			Dim:            2048,
			ContextRegions: 2,
			ColourWeight:   1,
			ShapeWeight:    1,
			ConceptWeight:  1,
			SizeWeight:     0.5,
			ContextMix:     0.2,
			Noise:          0.3,
		},
	}
}

// Validate reports the first inconsistent setting, naming its key.
func (p *Params) Validate() error {
	if len(p.Splits) == 0 {
		return fmt.Errorf("synthetic params: splits: at least one split is needed")
	}
	seen := map[string]bool{}
	for i, s := range p.Splits {
		if s.Name == "" || strings.ContainsAny(s.Name, `/\ `) {
			return fmt.Errorf("synthetic params: splits[%d].name %q: want a plain file stem such as train", i, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("synthetic params: splits[%d].name %q appears twice", i, s.Name)
		}
		seen[s.Name] = true
		if s.Memes < 0 || s.Memes%4 != 0 {
			return fmt.Errorf("synthetic params: splits[%d] (%s).memes = %d: want a non-negative multiple of 4 (memes come in confounder quads)", i, s.Name, s.Memes)
		}
	}
	if p.NumColours < 1 || p.NumColours > len(Palette) {
		return fmt.Errorf("synthetic params: num_colours = %d: want 1..%d", p.NumColours, len(Palette))
	}
	if p.NumShapes < 1 || p.NumShapes > len(Shapes) {
		return fmt.Errorf("synthetic params: num_shapes = %d: want 1..%d", p.NumShapes, len(Shapes))
	}
	n := p.NumColours * p.NumShapes
	// A quad needs a concept in image 1 only, one in image 2 only, and
	// ObjectsPerImage-1 fillers for image 2 drawn from the rest.
	if p.ObjectsPerImage < 1 || p.ObjectsPerImage+1 > n {
		return fmt.Errorf("synthetic params: objects_per_image = %d: want 1..%d for %d×%d concepts", p.ObjectsPerImage, n-1, p.NumColours, p.NumShapes)
	}
	if p.ObjectsPerImage > 6 {
		return fmt.Errorf("synthetic params: objects_per_image = %d: at most 6 fit in one picture", p.ObjectsPerImage)
	}
	if p.HardNegatives < 0 || p.HardNegatives > 1 {
		return fmt.Errorf("synthetic params: hard_negatives = %g: want a fraction in [0, 1]", p.HardNegatives)
	}
	if len(p.Templates) == 0 {
		return fmt.Errorf("synthetic params: templates: at least one caption template is needed")
	}
	for i, t := range p.Templates {
		if !strings.Contains(t, "{colour}") || !strings.Contains(t, "{shape}") {
			return fmt.Errorf("synthetic params: templates[%d] %q must contain both {colour} and {shape}", i, t)
		}
	}
	if p.ImageWidth < 64 || p.ImageHeight < 64 || p.ImageWidth > 4096 || p.ImageHeight > 4096 {
		return fmt.Errorf("synthetic params: image_width × image_height = %d×%d: want 64..4096 each", p.ImageWidth, p.ImageHeight)
	}
	d := p.Detector
	if d.Dim < 1 {
		return fmt.Errorf("synthetic params: detector.dim = %d: want ≥ 1", d.Dim)
	}
	if d.ContextRegions < 0 {
		return fmt.Errorf("synthetic params: detector.context_regions = %d: want ≥ 0", d.ContextRegions)
	}
	for _, w := range []struct {
		key string
		v   float64
	}{{"colour_weight", d.ColourWeight}, {"shape_weight", d.ShapeWeight}, {"concept_weight", d.ConceptWeight}, {"size_weight", d.SizeWeight}, {"context_mix", d.ContextMix}, {"noise", d.Noise}} {
		if w.v < 0 {
			return fmt.Errorf("synthetic params: detector.%s = %g: want ≥ 0", w.key, w.v)
		}
	}
	return nil
}

// TotalMemes is the number of memes over all splits.
func (p *Params) TotalMemes() int {
	t := 0
	for _, s := range p.Splits {
		t += s.Memes
	}
	return t
}

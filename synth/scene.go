package synth

import (
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"mmc/memes"
)

// Colour is a named object colour.
type Colour struct {
	Name string
	RGB  color.RGBA
}

// Palette lists the object colours; Params.NumColours takes a prefix.
var Palette = []Colour{
	{"red", color.RGBA{214, 39, 40, 255}},
	{"blue", color.RGBA{31, 90, 214, 255}},
	{"green", color.RGBA{34, 160, 60, 255}},
	{"yellow", color.RGBA{236, 200, 20, 255}},
	{"purple", color.RGBA{130, 60, 180, 255}},
	{"orange", color.RGBA{245, 130, 20, 255}},
}

// Shapes lists the object shapes; Params.NumShapes takes a prefix.
var Shapes = []string{"circle", "square", "triangle", "diamond", "star", "cross"}

// Sizes lists the object sizes (a nuisance attribute: never in a caption).
var Sizes = []string{"small", "large"}

// Backgrounds lists the neutral scene backgrounds (also a nuisance).
var Backgrounds = []Colour{
	{"white", color.RGBA{245, 245, 240, 255}},
	{"grey", color.RGBA{200, 200, 200, 255}},
	{"beige", color.RGBA{235, 222, 195, 255}},
	{"sky", color.RGBA{205, 225, 240, 255}},
}

// Object is one shape in a scene. Box is (x1, y1, x2, y2) in pixels,
// x2/y2 exclusive.
type Object struct {
	Colour string `json:"colour"`
	Shape  string `json:"shape"`
	Size   string `json:"size"`
	Box    [4]int `json:"box"`
}

// Caption is what a meme's text says and where it is drawn.
type Caption struct {
	Colour   string `json:"colour"`
	Shape    string `json:"shape"`
	Template int    `json:"template"`
	Text     string `json:"text"`
	Box      [4]int `json:"box"` // the text band, pixels
}

// Scene describes one meme picture: the objects with their pixel boxes,
// the background, and the caption drawn on it. It is the per-image entry
// of a split's sidecar file. Memes that show the same objects share
// SceneID (and get identical region features).
type Scene struct {
	ID         memes.ID `json:"id"`
	Img        string   `json:"img"`
	SceneID    int      `json:"scene_id"`
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	Background string   `json:"background"`
	Objects    []Object `json:"objects"`
	Caption    Caption  `json:"caption"`
}

// SplitData is one generated split: Memes[i] is drawn as Scenes[i].
type SplitData struct {
	Name     string
	Labelled bool
	Memes    []memes.Meme
	Scenes   []Scene
}

// Set is a generated data set, splits in Params order.
type Set struct {
	Params Params
	Splits []SplitData
}

// concept is a colour+shape pair as palette indexes.
type concept struct{ colour, shape int }

// layout is the objects and background of one underlying scene, shared
// by the two memes of a quad that show it.
type layout struct {
	id         int
	background int
	objects    []Object
}

// Generate builds the whole data set in memory. Each split is a list of
// quads: images A (with concept a, without b) and B (with b, without a),
// captions naming a and b, and the four pairings, so that every caption
// and every image occurs once as hateful and once as not.
func Generate(p Params) (*Set, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	total := p.TotalMemes()
	if total > 90000 {
		return nil, fmt.Errorf("synthetic params: %d memes in all: at most 90000 fit the five-digit ids", total)
	}
	rng := rand.New(rand.NewPCG(uint64(p.Seed), 0x5eed))
	// Five-digit ids without leading zeros, drawn without replacement, so
	// the id, the image name and MMF's LMDB key all agree.
	ids := rng.Perm(90000)
	nextID := 0
	sceneID := 0
	set := &Set{Params: p}
	for _, sp := range p.Splits {
		sd := SplitData{Name: sp.Name, Labelled: sp.Labelled}
		type pair struct {
			lay   *layout
			c     concept
			tmpl  int
			label int
		}
		var pairs []pair
		for q := 0; q < sp.Memes/4; q++ {
			a, b, objsA, objsB := drawQuad(rng, &p)
			la := placeObjects(rng, &p, sceneID, objsA)
			lb := placeObjects(rng, &p, sceneID+1, objsB)
			sceneID += 2
			ta, tb := rng.IntN(len(p.Templates)), rng.IntN(len(p.Templates))
			pairs = append(pairs,
				pair{la, a, ta, 1}, pair{lb, a, ta, 0},
				pair{lb, b, tb, 1}, pair{la, b, tb, 0})
		}
		rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		for _, pr := range pairs {
			n := 10000 + ids[nextID]
			nextID++
			id := memes.ID(strconv.Itoa(n))
			img := fmt.Sprintf("img/%05d.png", n)
			text := CaptionText(p.Templates[pr.tmpl], pr.c.colour, pr.c.shape)
			m := memes.Meme{ID: id, Img: img, Text: text}
			if sp.Labelled {
				l := pr.label
				m.Label = &l
			}
			sd.Memes = append(sd.Memes, m)
			sd.Scenes = append(sd.Scenes, Scene{
				ID: id, Img: img, SceneID: pr.lay.id,
				Width: p.ImageWidth, Height: p.ImageHeight,
				Background: Backgrounds[pr.lay.background].Name,
				Objects:    pr.lay.objects,
				Caption: Caption{
					Colour: Palette[pr.c.colour].Name, Shape: Shapes[pr.c.shape],
					Template: pr.tmpl, Text: text, Box: captionBand(&p),
				},
			})
		}
		set.Splits = append(set.Splits, sd)
	}
	return set, nil
}

// CaptionText fills a template with the concept's words.
func CaptionText(template string, colour, shape int) string {
	return strings.NewReplacer("{colour}", Palette[colour].Name, "{shape}", Shapes[shape]).Replace(template)
}

// drawQuad picks the concepts of one confounder quad: image A holds a and
// not b, image B holds b and not a, each with ObjectsPerImage distinct
// concepts.
func drawQuad(rng *rand.Rand, p *Params) (a, b concept, objsA, objsB []concept) {
	n := p.NumColours * p.NumShapes
	k := p.ObjectsPerImage
	all := make([]concept, n)
	for i := range all {
		all[i] = concept{i / p.NumShapes, i % p.NumShapes}
	}
	perm := rng.Perm(n)
	for _, i := range perm[:k] {
		objsA = append(objsA, all[i])
	}
	a = objsA[rng.IntN(k)]
	absent := make([]concept, 0, n-k)
	for _, i := range perm[k:] {
		absent = append(absent, all[i])
	}
	b = absent[rng.IntN(len(absent))]
	if rng.Float64() < p.HardNegatives {
		// A hard negative shares the colour or the shape of an object
		// that is present, so only the binding tells them apart.
		var hard []concept
		for _, c := range absent {
			for _, o := range objsA {
				if c.colour == o.colour || c.shape == o.shape {
					hard = append(hard, c)
					break
				}
			}
		}
		if len(hard) > 0 {
			b = hard[rng.IntN(len(hard))]
		}
	}
	objsB = append(objsB, b)
	var rest []concept
	for _, c := range all {
		if c != a && c != b {
			rest = append(rest, c)
		}
	}
	for _, i := range rng.Perm(len(rest))[:k-1] {
		objsB = append(objsB, rest[i])
	}
	rng.Shuffle(len(objsB), func(i, j int) { objsB[i], objsB[j] = objsB[j], objsB[i] })
	return a, b, objsA, objsB
}

// captionBand is the strip at the top of the picture that holds the text.
func captionBand(p *Params) [4]int {
	return [4]int{0, 0, p.ImageWidth, p.ImageHeight / 5}
}

// placeObjects lays the objects out on a grid below the caption band, one
// object per randomly chosen cell, with random size and jitter, so that
// no two objects overlap.
func placeObjects(rng *rand.Rand, p *Params, id int, cs []concept) *layout {
	band := captionBand(p)
	top := band[3]
	areaW, areaH := p.ImageWidth, p.ImageHeight-top
	cols := int(math.Ceil(math.Sqrt(float64(len(cs)))))
	if cols < 2 {
		cols = 2
	}
	rows := (len(cs) + cols - 1) / cols
	if rows < 2 {
		rows = 2
	}
	cellW, cellH := areaW/cols, areaH/rows
	cells := rng.Perm(cols * rows)
	lay := &layout{id: id, background: rng.IntN(len(Backgrounds))}
	for i, c := range cs {
		cell := cells[i]
		cx, cy := (cell%cols)*cellW, top+(cell/cols)*cellH
		maxSide := int(0.9 * float64(min(cellW, cellH)))
		size := rng.IntN(len(Sizes))
		side := maxSide
		if Sizes[size] == "small" {
			side = maxSide * 3 / 5
		}
		x := cx + rng.IntN(cellW-side+1)
		y := cy + rng.IntN(cellH-side+1)
		lay.objects = append(lay.objects, Object{
			Colour: Palette[c.colour].Name, Shape: Shapes[c.shape], Size: Sizes[size],
			Box: [4]int{x, y, x + side, y + side},
		})
	}
	return lay
}

// indexOf finds name in names, for turning sidecar words back into codes.
func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// colourIndex finds a palette colour by name.
func colourIndex(pal []Colour, name string) int {
	for i, c := range pal {
		if c.Name == name {
			return i
		}
	}
	return -1
}

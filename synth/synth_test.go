package synth

import (
	"bufio"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/memes"
)

func smallParams() Params {
	p := DefaultParams()
	p.Splits = []Split{
		{Name: "train", Memes: 40, Labelled: true},
		{Name: "dev_seen", Memes: 8, Labelled: true},
		{Name: "test_unseen", Memes: 8, Labelled: false},
	}
	p.Detector.Dim = 16
	return p
}

func TestGenerateIsDeterministic(t *testing.T) {
	p := smallParams()
	a, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	p.Seed++
	c, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Splits, c.Splits) {
		t.Fatal("a different seed gave the same data set")
	}
}

// TestConfounderBalance checks the properties the learnability rests on:
// the label is exactly "the caption's concept is in the picture", and
// every caption text and every scene occurs equally often with each label.
func TestConfounderBalance(t *testing.T) {
	p := smallParams()
	p.NumColours, p.NumShapes, p.ObjectsPerImage = 4, 3, 3
	set, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[memes.ID]bool{}
	for _, sd := range set.Splits {
		if len(sd.Memes) != len(sd.Scenes) {
			t.Fatalf("%s: %d memes, %d scenes", sd.Name, len(sd.Memes), len(sd.Scenes))
		}
		byText := map[string][2]int{}
		byScene := map[int][2]int{}
		for i, m := range sd.Memes {
			s := sd.Scenes[i]
			if ids[m.ID] {
				t.Errorf("id %s used twice", m.ID)
			}
			ids[m.ID] = true
			if m.Img != "img/"+string(m.ID)+".png" || s.ID != m.ID || s.Img != m.Img {
				t.Errorf("meme %s: img %q, scene id %s img %q", m.ID, m.Img, s.ID, s.Img)
			}
			if len(s.Objects) != p.ObjectsPerImage {
				t.Errorf("meme %s: %d objects, want %d", m.ID, len(s.Objects), p.ObjectsPerImage)
			}
			present := 0
			for _, o := range s.Objects {
				if o.Colour == s.Caption.Colour && o.Shape == s.Caption.Shape {
					present = 1
				}
			}
			want := CaptionText(p.Templates[s.Caption.Template], colourIndex(Palette, s.Caption.Colour), indexOf(Shapes, s.Caption.Shape))
			if m.Text != want {
				t.Errorf("meme %s: text %q, caption says %q", m.ID, m.Text, want)
			}
			if !sd.Labelled {
				if m.Label != nil {
					t.Errorf("%s is unlabelled but meme %s has a label", sd.Name, m.ID)
				}
				continue
			}
			if *m.Label != present {
				t.Errorf("meme %s: label %d but concept present = %d", m.ID, *m.Label, present)
			}
			c := byText[m.Text]
			c[*m.Label]++
			byText[m.Text] = c
			c = byScene[s.SceneID]
			c[*m.Label]++
			byScene[s.SceneID] = c
		}
		for text, c := range byText {
			if c[0] != c[1] {
				t.Errorf("%s: caption %q is hateful %d times, benign %d times", sd.Name, text, c[1], c[0])
			}
		}
		for id, c := range byScene {
			if c != [2]int{1, 1} {
				t.Errorf("%s: scene %d labels %v, want one of each", sd.Name, id, c)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		adjust func(p *Params)
		want   string
	}{
		{"default is valid", func(p *Params) {}, ""},
		{"not a multiple of 4", func(p *Params) { p.Splits[0].Memes = 10 }, "splits[0] (train).memes = 10"},
		{"duplicate split", func(p *Params) { p.Splits[1].Name = "train" }, `splits[1].name "train" appears twice`},
		{"path in split name", func(p *Params) { p.Splits[0].Name = "../x" }, "plain file stem"},
		{"too many colours", func(p *Params) { p.NumColours = 7 }, "num_colours = 7"},
		{"no shapes", func(p *Params) { p.NumShapes = 0 }, "num_shapes = 0"},
		{"objects fill every concept", func(p *Params) { p.NumColours, p.NumShapes, p.ObjectsPerImage = 2, 2, 4 }, "objects_per_image = 4"},
		{"template without shape", func(p *Params) { p.Templates = []string{"the {colour} one"} }, "templates[0]"},
		{"negative noise", func(p *Params) { p.Detector.Noise = -1 }, "detector.noise"},
		{"zero dim", func(p *Params) { p.Detector.Dim = 0 }, "detector.dim"},
		{"hard negatives above one", func(p *Params) { p.HardNegatives = 2 }, "hard_negatives"},
		{"tiny image", func(p *Params) { p.ImageWidth = 10 }, "image_width"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultParams()
			c.adjust(&p)
			err := p.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestRenderDrawsObjectsAndCaption(t *testing.T) {
	s := &Scene{
		ID: "10001", Img: "img/10001.png", Width: 224, Height: 224, Background: "white",
		Objects: []Object{
			{Colour: "red", Shape: "circle", Size: "large", Box: [4]int{20, 60, 100, 140}},
			{Colour: "blue", Shape: "square", Size: "small", Box: [4]int{130, 150, 180, 200}},
		},
		Caption: Caption{Colour: "red", Shape: "circle", Box: [4]int{0, 0, 224, 44}},
	}
	img, err := NewRenderer().Render(s, "look at the red circle")
	if err != nil {
		t.Fatal(err)
	}
	at := func(x, y int) color.RGBA { return img.RGBAAt(x, y) }
	if got := at(60, 100); got != Palette[0].RGB {
		t.Errorf("circle centre is %v, want red %v", got, Palette[0].RGB)
	}
	if got := at(21, 61); got != Backgrounds[0].RGB {
		t.Errorf("circle bounding-box corner is %v, want background (a circle leaves its corners empty)", got)
	}
	if got := at(155, 175); got != Palette[1].RGB {
		t.Errorf("square centre is %v, want blue", got)
	}
	if got := at(200, 100); got != Backgrounds[0].RGB {
		t.Errorf("empty area is %v, want background", got)
	}
	var white, black int
	for y := 0; y < 44; y++ {
		for x := 0; x < 224; x++ {
			c := at(x, y)
			switch {
			case c == color.RGBA{255, 255, 255, 255}:
				white++
			case c.R < 64 && c.G < 64 && c.B < 64:
				black++
			}
		}
	}
	if white < 200 || black < 200 {
		t.Errorf("caption band has %d white and %d black pixels, want outlined white text", white, black)
	}
	if _, err := NewRenderer().Render(s, strings.Repeat("supercalifragilistic ", 6)); err == nil {
		t.Error("a caption that cannot fit on two lines was accepted")
	}
	s.Objects[1].Box = [4]int{200, 200, 260, 260}
	if _, err := NewRenderer().Render(s, "x"); err == nil || !strings.Contains(err.Error(), "object 1: box") {
		t.Errorf("an object outside the picture: error %v", err)
	}
}

func TestDetector(t *testing.T) {
	p := smallParams()
	set, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Detector.WholeImageFirst = false
	det, err := NewDetector(p.Detector)
	if err != nil {
		t.Fatal(err)
	}
	p.Detector.WholeImageFirst = true
	first, _ := NewDetector(p.Detector)
	byScene := map[int][]float32{}
	for _, sd := range set.Splits {
		for i := range sd.Scenes {
			s := &sd.Scenes[i]
			rec, err := det.Features(s)
			if err != nil {
				t.Fatal(err)
			}
			k := len(s.Objects)
			if rec.NumBoxes != k+p.Detector.ContextRegions || rec.Dim != p.Detector.Dim || rec.ID != string(s.ID) {
				t.Fatalf("scene %s: record %s with %d boxes × %d", s.ID, rec.ID, rec.NumBoxes, rec.Dim)
			}
			for j, o := range s.Objects {
				for c := range 4 {
					if rec.Boxes[j*4+c] != float32(o.Box[c]) {
						t.Errorf("scene %s region %d box %v, object box %v", s.ID, j, rec.Boxes[j*4:j*4+4], o.Box)
					}
				}
			}
			if got := rec.Boxes[k*4 : k*4+4]; got[2] != float32(s.Width) || got[3] != float32(s.Height) {
				t.Errorf("scene %s: first context region %v, want the whole image", s.ID, got)
			}
			// The whole image moved in front: everything else shifts back.
			rot, err := first.Features(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := rot.Boxes[:4]; got[2] != float32(s.Width) || got[3] != float32(s.Height) || rot.Objects[0] != BackgroundClass {
				t.Errorf("scene %s with whole_image_first: region 0 box %v class %d", s.ID, got, rot.Objects[0])
			}
			if !reflect.DeepEqual(rot.Boxes[4:4*(k+1)], rec.Boxes[:4*k]) || !reflect.DeepEqual(rot.Objects[1:k+1], rec.Objects[:k]) {
				t.Errorf("scene %s with whole_image_first: objects %v, want %v after the whole image", s.ID, rot.Boxes[4:4*(k+1)], rec.Boxes[:4*k])
			}
			if prev, ok := byScene[s.SceneID]; ok && !reflect.DeepEqual(prev, rec.Features) {
				t.Errorf("scene %d: two memes showing it got different features", s.SceneID)
			}
			byScene[s.SceneID] = rec.Features
		}
	}
	// Without noise, an object's feature is exactly its codes' weighted sum.
	p.Detector.Noise = 0
	p.Detector.WholeImageFirst = false
	det, _ = NewDetector(p.Detector)
	s := &set.Splits[0].Scenes[0]
	rec, _ := det.Features(s)
	o := s.Objects[0]
	c, sh, sz := colourIndex(Palette, o.Colour), indexOf(Shapes, o.Shape), indexOf(Sizes, o.Size)
	for j := range p.Detector.Dim {
		want := det.colours[c][j] + det.shapes[sh][j] + det.concepts[c*len(Shapes)+sh][j] + 0.5*det.sizes[sz][j]
		if d := rec.Features[j] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("noise-free feature[%d] = %v, want %v", j, rec.Features[j], want)
		}
	}
}

func TestWriteLaysOutHatefulMemesFiles(t *testing.T) {
	p := smallParams()
	set, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "synthetic_memes")
	if err := Write(root, set); err != nil {
		t.Fatal(err)
	}
	for _, sd := range set.Splits {
		f, err := os.Open(filepath.Join(root, sd.Name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			var raw map[string]any
			if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
				t.Fatalf("%s.jsonl line %d: %v", sd.Name, n+1, err)
			}
			if _, isNum := raw["id"].(float64); !isNum {
				t.Errorf("%s.jsonl line %d: id %v is not a JSON number", sd.Name, n+1, raw["id"])
			}
			if _, has := raw["label"]; has != sd.Labelled {
				t.Errorf("%s.jsonl line %d: label present = %v, labelled split = %v", sd.Name, n+1, has, sd.Labelled)
			}
			var m memes.Meme
			json.Unmarshal(sc.Bytes(), &m)
			if !reflect.DeepEqual(m, sd.Memes[n]) {
				t.Errorf("%s.jsonl line %d: %+v, want %+v", sd.Name, n+1, m, sd.Memes[n])
			}
			n++
		}
		f.Close()
		if n != len(sd.Memes) {
			t.Errorf("%s.jsonl: %d lines, want %d", sd.Name, n, len(sd.Memes))
		}
		var side Sidecar
		b, err := os.ReadFile(filepath.Join(root, SidecarName(sd.Name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &side); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(side.Scenes, sd.Scenes) {
			t.Errorf("%s sidecar does not round-trip", sd.Name)
		}
		for _, m := range sd.Memes[:2] {
			f, err := os.Open(filepath.Join(root, m.Img))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", m.Img, err)
			}
			if b := img.Bounds(); b.Dx() != p.ImageWidth || b.Dy() != p.ImageHeight {
				t.Errorf("%s is %v, want %d×%d", m.Img, b, p.ImageWidth, p.ImageHeight)
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "img"))
	if len(entries) != p.TotalMemes() {
		t.Errorf("img/ holds %d files, want %d", len(entries), p.TotalMemes())
	}
	back, err := ReadScenes(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, set) {
		t.Error("ReadScenes does not give back the generated set")
	}
}

func TestReadScenesNamesTheBrokenFile(t *testing.T) {
	root := t.TempDir()
	set, _ := Generate(smallParams())
	if err := Write(root, set); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(root, SidecarName("dev_seen"))
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := ReadScenes(root); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v, want one naming %s", err, bad)
	}
	os.Remove(filepath.Join(root, ParamsFile))
	if _, err := ReadScenes(root); err == nil || !strings.Contains(err.Error(), ParamsFile) {
		t.Errorf("error %v, want one naming %s", err, ParamsFile)
	}
}

func TestToPalettedKeepsPixels(t *testing.T) {
	s := &Scene{ID: "10001", Width: 224, Height: 224, Background: "sky",
		Objects: []Object{{Colour: "green", Shape: "star", Size: "large", Box: [4]int{30, 60, 110, 140}}},
		Caption: Caption{Box: [4]int{0, 0, 224, 44}}}
	img, err := NewRenderer().Render(s, "green star people")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := toPaletted(img)
	if !ok {
		t.Fatal("a flat scene did not fit a palette")
	}
	for y := 0; y < 224; y++ {
		for x := 0; x < 224; x++ {
			if r, g, b, _ := p.At(x, y).RGBA(); color.RGBA(img.RGBAAt(x, y)) != (color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}) {
				t.Fatalf("pixel %d,%d changed", x, y)
			}
		}
	}
	noisy := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			noisy.SetRGBA(x, y, color.RGBA{uint8(8 * x), uint8(8 * y), 0, 255}) // 1024 colours
		}
	}
	if _, ok := toPaletted(noisy); ok {
		t.Error("an image with more than 256 colours was palettised")
	}
}

func TestShapesAreDistinct(t *testing.T) {
	// Every shape covers its centre and leaves its box corner empty, and
	// no two shapes cover the same set of sample points.
	masks := map[string]string{}
	for _, name := range Shapes {
		in, ok := shapeTests[name]
		if !ok {
			t.Fatalf("shape %q has no drawing", name)
		}
		if !in(0, 0) || in(-0.97, -0.97) {
			t.Errorf("%s: centre inside %v, corner inside %v", name, in(0, 0), in(-0.97, -0.97))
		}
		var mask strings.Builder
		for v := -1.0; v <= 1; v += 0.1 {
			for u := -1.0; u <= 1; u += 0.1 {
				if in(u, v) {
					mask.WriteByte('#')
				} else {
					mask.WriteByte('.')
				}
			}
		}
		for other, m := range masks {
			if m == mask.String() {
				t.Errorf("%s and %s draw the same", name, other)
			}
		}
		masks[name] = mask.String()
	}
}

// TestDetectedRegionsProvenance checks what a feature store records about
// the synthetic detector: its name and its parameters under their JSON keys.
func TestDetectedRegionsProvenance(t *testing.T) {
	p := smallParams()
	set, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	det, err := NewDetector(p.Detector)
	if err != nil {
		t.Fatal(err)
	}
	d := &DetectedRegions{Set: set, Detector: det}
	m := d.ExtractorParams()
	if d.Extractor() != "mmc synthetic detector" || m["dim"] != float64(p.Detector.Dim) || m["context_regions"] != float64(p.Detector.ContextRegions) {
		t.Fatalf("extractor %q params %v", d.Extractor(), m)
	}
}

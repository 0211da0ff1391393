package synth

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var (
	boldOnce sync.Once
	boldFont *opentype.Font
	boldErr  error
)

// faceCache holds one font face per pixel size; a face is not safe for
// concurrent use, so each renderer keeps its own.
type faceCache map[float64]font.Face

func (fc faceCache) face(size float64) (font.Face, error) {
	if f, ok := fc[size]; ok {
		return f, nil
	}
	boldOnce.Do(func() { boldFont, boldErr = opentype.Parse(gobold.TTF) })
	if boldErr != nil {
		return nil, fmt.Errorf("parse Go Bold font: %w", boldErr)
	}
	f, err := opentype.NewFace(boldFont, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("font face %gpx: %w", size, err)
	}
	fc[size] = f
	return f, nil
}

// Renderer draws scenes. It is not safe for concurrent use; give each
// goroutine its own.
type Renderer struct{ faces faceCache }

// NewRenderer returns a renderer with an empty font cache.
func NewRenderer() *Renderer { return &Renderer{faces: faceCache{}} }

// Render draws the scene's background, objects and meme-style caption
// (white text with a black outline in the top band).
func (r *Renderer) Render(s *Scene, text string) (*image.RGBA, error) {
	bg := colourIndex(Backgrounds, s.Background)
	if bg < 0 {
		return nil, fmt.Errorf("scene %s: unknown background %q", s.ID, s.Background)
	}
	img := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	draw.Draw(img, img.Bounds(), &image.Uniform{Backgrounds[bg].RGB}, image.Point{}, draw.Src)
	for i, o := range s.Objects {
		c := colourIndex(Palette, o.Colour)
		if c < 0 {
			return nil, fmt.Errorf("scene %s object %d: unknown colour %q", s.ID, i, o.Colour)
		}
		inside, ok := shapeTests[o.Shape]
		if !ok {
			return nil, fmt.Errorf("scene %s object %d: unknown shape %q", s.ID, i, o.Shape)
		}
		if !inImage(o.Box, img.Bounds()) {
			return nil, fmt.Errorf("scene %s object %d: box %v outside the %d×%d picture", s.ID, i, o.Box, s.Width, s.Height)
		}
		fillShape(img, o.Box, inside, Palette[c].RGB)
	}
	if !inImage(s.Caption.Box, img.Bounds()) {
		return nil, fmt.Errorf("scene %s: caption box %v outside the %d×%d picture", s.ID, s.Caption.Box, s.Width, s.Height)
	}
	if err := r.drawCaption(img, s.Caption.Box, text); err != nil {
		return nil, fmt.Errorf("scene %s: %w", s.ID, err)
	}
	return img, nil
}

// starPolygon is a five-pointed star (outer radius 1, inner 0.42) with
// its top point up, as alternating outer and inner vertices.
var starPolygon = func() [][2]float64 {
	pts := make([][2]float64, 10)
	for i := range pts {
		r := 1.0
		if i%2 == 1 {
			r = 0.42
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		pts[i] = [2]float64{r * math.Cos(a), r*math.Sin(a) + 0.1} // +0.1 centres it vertically
	}
	return pts
}()

// inPolygon is the even-odd ray-casting test.
func inPolygon(pts [][2]float64, u, v float64) bool {
	in := false
	for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
		a, b := pts[i], pts[j]
		if (a[1] > v) != (b[1] > v) && u < (b[0]-a[0])*(v-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

// inImage reports whether box is a non-empty rectangle inside b.
func inImage(box [4]int, b image.Rectangle) bool {
	r := image.Rect(box[0], box[1], box[2], box[3])
	return box[0] < box[2] && box[1] < box[3] && r.In(b)
}

// shapeTests says whether a point (u, v) in the unit square [-1, 1]² lies
// inside each shape.
var shapeTests = map[string]func(u, v float64) bool{
	"circle": func(u, v float64) bool { return u*u+v*v <= 1 },
	"square": func(u, v float64) bool { return math.Abs(u) <= 0.85 && math.Abs(v) <= 0.85 },
	"triangle": func(u, v float64) bool {
		// Apex up, base at the bottom: |u| grows linearly with v.
		return v >= -0.9 && v <= 0.9 && math.Abs(u) <= (v+0.9)/1.8
	},
	"diamond": func(u, v float64) bool { return math.Abs(u)+math.Abs(v) <= 1 },
	"star":    func(u, v float64) bool { return inPolygon(starPolygon, u, v) },
	"cross": func(u, v float64) bool {
		return (math.Abs(u) <= 0.3 && math.Abs(v) <= 0.95) || (math.Abs(v) <= 0.3 && math.Abs(u) <= 0.95)
	},
}

// fillShape paints the pixels of box whose centre is inside the shape,
// with 2×2 supersampling for soft edges.
func fillShape(img *image.RGBA, box [4]int, inside func(u, v float64) bool, c color.RGBA) {
	w, h := float64(box[2]-box[0]), float64(box[3]-box[1])
	for y := box[1]; y < box[3]; y++ {
		for x := box[0]; x < box[2]; x++ {
			hits := 0
			for _, d := range [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}} {
				u := 2*(float64(x-box[0])+d[0])/w - 1
				v := 2*(float64(y-box[1])+d[1])/h - 1
				if inside(u, v) {
					hits++
				}
			}
			if hits == 0 {
				continue
			}
			i := img.PixOffset(x, y)
			a := float64(hits) / 4
			for ch, val := range [3]uint8{c.R, c.G, c.B} {
				img.Pix[i+ch] = uint8(math.Round(a*float64(val) + (1-a)*float64(img.Pix[i+ch])))
			}
		}
	}
}

// drawCaption writes text centred in band, at the largest size that fits
// on at most two lines: white glyphs with a black outline, as memes do.
// The glyphs are rasterised once into a mask; the outline is the mask
// dilated by a few pixels, which is much cheaper than redrawing the text
// at every offset.
func (r *Renderer) drawCaption(img *image.RGBA, band [4]int, text string) error {
	bw, bh := band[2]-band[0], band[3]-band[1]
	margin := max(2, bw/40)
	words := strings.Fields(strings.ToUpper(text))
	for size := math.Floor(float64(bh) * 0.7); size >= 6; size-- {
		face, err := r.faces.face(size)
		if err != nil {
			return err
		}
		lines := wrap(face, words, bw-2*margin)
		lineH := face.Metrics().Height.Ceil()
		if len(lines) == 0 || len(lines) > 2 || lineH*len(lines) > bh {
			continue
		}
		rect := image.Rect(band[0], band[1], band[2], band[3])
		mask := image.NewAlpha(rect)
		ascent := face.Metrics().Ascent.Ceil()
		y0 := band[1] + (bh-lineH*len(lines))/2 + ascent
		for i, ln := range lines {
			w := font.MeasureString(face, ln).Ceil()
			d := font.Drawer{Dst: mask, Src: image.Opaque, Face: face, Dot: fixed.P(band[0]+(bw-w)/2, y0+i*lineH)}
			d.DrawString(ln)
		}
		// Hard-edged glyphs keep a picture to a few dozen colours, so it
		// is stored as a small paletted PNG (see toPaletted).
		for i, a := range mask.Pix {
			if a >= 128 {
				mask.Pix[i] = 255
			} else {
				mask.Pix[i] = 0
			}
		}
		outline := dilate(mask, max(1, int(size/12)))
		draw.DrawMask(img, rect, image.Black, image.Point{}, outline, rect.Min, draw.Over)
		draw.DrawMask(img, rect, image.White, image.Point{}, mask, rect.Min, draw.Over)
		return nil
	}
	return fmt.Errorf("caption %q does not fit in a %d×%d band", text, bw, bh)
}

// dilate returns the maximum of m over a (2r+1)² square around each pixel.
func dilate(m *image.Alpha, r int) *image.Alpha {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	rows := image.NewAlpha(b) // horizontal pass
	for y := 0; y < h; y++ {
		src := m.Pix[y*m.Stride : y*m.Stride+w]
		dst := rows.Pix[y*rows.Stride : y*rows.Stride+w]
		for x := 0; x < w; x++ {
			var v uint8
			for dx := max(0, x-r); dx <= min(w-1, x+r); dx++ {
				v = max(v, src[dx])
			}
			dst[x] = v
		}
	}
	out := image.NewAlpha(b) // vertical pass
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v uint8
			for dy := max(0, y-r); dy <= min(h-1, y+r); dy++ {
				v = max(v, rows.Pix[dy*rows.Stride+x])
			}
			out.Pix[y*out.Stride+x] = v
		}
	}
	return out
}

// wrap breaks words into lines no wider than width; nil if a single word
// is already too wide.
func wrap(face font.Face, words []string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range words {
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		if font.MeasureString(face, try).Ceil() <= width {
			cur = try
			continue
		}
		if cur == "" {
			return nil
		}
		lines = append(lines, cur)
		cur = w
		if font.MeasureString(face, cur).Ceil() > width {
			return nil
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

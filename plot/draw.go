package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// Colours of the chart furniture.
var (
	white     = color.RGBA{255, 255, 255, 255}
	ink       = color.RGBA{33, 37, 41, 255}
	axisGrey  = color.RGBA{108, 117, 125, 255}
	gridGrey  = color.RGBA{226, 230, 234, 255}
	chanceInk = color.RGBA{150, 150, 150, 255}
)

// Palette is the series colours, in order (Tableau 10, which stays
// distinguishable for the common forms of colour blindness).
var Palette = []color.RGBA{
	{31, 119, 180, 255},
	{255, 127, 14, 255},
	{44, 160, 44, 255},
	{214, 39, 40, 255},
	{148, 103, 189, 255},
	{140, 86, 75, 255},
	{227, 119, 194, 255},
	{127, 127, 127, 255},
	{188, 189, 34, 255},
	{23, 190, 207, 255},
}

// faces are the Go fonts at the sizes charts use, parsed once.
var faces struct {
	once               sync.Once
	err                error
	tick, label, title font.Face
}

func loadFaces() error {
	faces.once.Do(func() {
		regular, err := opentype.Parse(goregular.TTF)
		if err != nil {
			faces.err = fmt.Errorf("plot: parsing Go Regular font: %w", err)
			return
		}
		bold, err := opentype.Parse(gobold.TTF)
		if err != nil {
			faces.err = fmt.Errorf("plot: parsing Go Bold font: %w", err)
			return
		}
		face := func(f *opentype.Font, size float64) font.Face {
			if faces.err != nil {
				return nil
			}
			fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
			if err != nil {
				faces.err = fmt.Errorf("plot: font face at %gpt: %w", size, err)
			}
			return fc
		}
		faces.tick = face(regular, 12)
		faces.label = face(regular, 13)
		faces.title = face(bold, 16)
	})
	return faces.err
}

// canvas is an RGBA image with the drawing operations charts need.
type canvas struct {
	img *image.RGBA
	ras *vector.Rasterizer
	// clip is the region the rasterizer covers now; paths are drawn
	// relative to its corner, so small shapes do not cost a whole image.
	clip image.Rectangle
}

func newCanvas(w, h int) *canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	return &canvas{img: img, ras: vector.NewRasterizer(w, h)}
}

// fillRect fills the pixels of r exactly, without anti-aliasing.
func (c *canvas) fillRect(r image.Rectangle, col color.Color) {
	draw.Draw(c.img, r, image.NewUniform(col), image.Point{}, draw.Over)
}

// hline and vline draw one-pixel axis-aligned lines.
func (c *canvas) hline(x0, x1, y int, col color.Color) {
	c.fillRect(image.Rect(x0, y, x1+1, y+1), col)
}

func (c *canvas) vline(x, y0, y1 int, col color.Color) {
	c.fillRect(image.Rect(x, y0, x+1, y1+1), col)
}

// pt is a point in pixel coordinates (Y down).
type pt struct{ x, y float64 }

// stroke draws the polyline through pts, width pixels wide with round
// joins, anti-aliased. Every piece is wound the same way, so overlaps add
// up instead of cancelling in the rasterizer's accumulation.
func (c *canvas) stroke(pts []pt, width float64, col color.Color) {
	if len(pts) == 0 {
		return
	}
	h := width / 2
	c.begin(pts, h+1)
	for i := 1; i < len(pts); i++ {
		a, z := pts[i-1], pts[i]
		dx, dy := z.x-a.x, z.y-a.y
		l := math.Hypot(dx, dy)
		if l == 0 {
			continue
		}
		nx, ny := -dy/l*h, dx/l*h
		c.polygon([]pt{{a.x + nx, a.y + ny}, {z.x + nx, z.y + ny}, {z.x - nx, z.y - ny}, {a.x - nx, a.y - ny}})
	}
	for _, p := range pts {
		c.disc(p, h)
	}
	c.end(col)
}

// begin sizes the rasterizer to the bounding box of pts grown by pad.
func (c *canvas) begin(pts []pt, pad float64) {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x0, y0, x1, y1 = math.Min(x0, p.x), math.Min(y0, p.y), math.Max(x1, p.x), math.Max(y1, p.y)
	}
	r := image.Rect(int(math.Floor(x0-pad)), int(math.Floor(y0-pad)), int(math.Ceil(x1+pad)), int(math.Ceil(y1+pad)))
	c.clip = r.Intersect(c.img.Bounds())
	c.ras.Reset(max(c.clip.Dx(), 1), max(c.clip.Dy(), 1))
}

// end fills what was added since begin with col.
func (c *canvas) end(col color.Color) {
	if !c.clip.Empty() {
		c.ras.Draw(c.img, c.clip, image.NewUniform(col), image.Point{})
	}
}

// dashed draws the straight line a→b as dashes of on pixels with gaps of
// off pixels.
func (c *canvas) dashed(a, z pt, width, on, off float64, col color.Color) {
	l := math.Hypot(z.x-a.x, z.y-a.y)
	if l == 0 {
		return
	}
	ux, uy := (z.x-a.x)/l, (z.y-a.y)/l
	h := width / 2
	c.begin([]pt{a, z}, h+1)
	for s := 0.0; s < l; s += on + off {
		e := math.Min(s+on, l)
		p, q := pt{a.x + ux*s, a.y + uy*s}, pt{a.x + ux*e, a.y + uy*e}
		nx, ny := -uy*h, ux*h
		c.polygon([]pt{{p.x + nx, p.y + ny}, {q.x + nx, q.y + ny}, {q.x - nx, q.y - ny}, {p.x - nx, p.y - ny}})
	}
	c.end(col)
}

// markers draws a filled disc of radius r at each point.
func (c *canvas) markers(pts []pt, r float64, col color.Color) {
	c.begin(pts, r+1)
	for _, p := range pts {
		c.disc(p, r)
	}
	c.end(col)
}

// polygon adds a closed path to the rasterizer, in image coordinates.
func (c *canvas) polygon(ps []pt) {
	ox, oy := float64(c.clip.Min.X), float64(c.clip.Min.Y)
	c.ras.MoveTo(float32(ps[0].x-ox), float32(ps[0].y-oy))
	for _, p := range ps[1:] {
		c.ras.LineTo(float32(p.x-ox), float32(p.y-oy))
	}
	c.ras.ClosePath()
}

// disc adds a circle as a 24-gon, wound like stroke's segment quads.
func (c *canvas) disc(p pt, r float64) {
	const n = 24
	ps := make([]pt, n)
	for i := range ps {
		a := -2 * math.Pi * float64(i) / n
		ps[i] = pt{p.x + r*math.Cos(a), p.y + r*math.Sin(a)}
	}
	c.polygon(ps)
}

// Anchors for text placement.
type hAlign int

const (
	alignLeft hAlign = iota
	alignCenter
	alignRight
)

// textWidth is the advance width of s in face f, in pixels.
func textWidth(f font.Face, s string) int {
	return font.MeasureString(f, s).Ceil()
}

// text draws s with its vertical centre at y and x aligned per ha.
func (c *canvas) text(f font.Face, s string, x, y int, ha hAlign, col color.Color) {
	w := textWidth(f, s)
	switch ha {
	case alignCenter:
		x -= w / 2
	case alignRight:
		x -= w
	}
	m := f.Metrics()
	base := y + (m.Ascent.Ceil()-m.Descent.Ceil())/2
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: f, Dot: fixed.P(x, base)}
	d.DrawString(s)
}

// vtext draws s rotated a quarter turn anticlockwise (reading upwards),
// centred on (x, y).
func (c *canvas) vtext(f font.Face, s string, x, y int, col color.Color) {
	w := textWidth(f, s)
	m := f.Metrics()
	h := m.Ascent.Ceil() + m.Descent.Ceil()
	tmp := image.NewRGBA(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: tmp, Src: image.NewUniform(col), Face: f, Dot: fixed.P(0, m.Ascent.Ceil())}
	d.DrawString(s)
	rot := image.NewRGBA(image.Rect(0, 0, h, w))
	for ty := 0; ty < h; ty++ {
		for tx := 0; tx < w; tx++ {
			rot.SetRGBA(ty, w-1-tx, tmp.RGBAAt(tx, ty))
		}
	}
	r := image.Rect(x-h/2, y-w/2, x-h/2+h, y-w/2+w)
	draw.Draw(c.img, r, rot, image.Point{}, draw.Over)
}

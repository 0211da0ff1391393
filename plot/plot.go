package plot

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Options holds what every chart shares. Zero values pick defaults.
type Options struct {
	Title  string
	XLabel string
	YLabel string
	// Width and Height are the image size in pixels (default 800×500).
	Width, Height int
}

// Size limits: below the minimum there is no room for a plot area; above
// the maximum an image is more likely a unit mistake than a wish.
const (
	MinSize = 200
	MaxSize = 8000
)

// ErrEmpty reports a chart with nothing to draw.
var ErrEmpty = errors.New("plot: no data")

func (o Options) withDefaults(w, h int) (Options, error) {
	if o.Width == 0 {
		o.Width = w
	}
	if o.Height == 0 {
		o.Height = h
	}
	if o.Width < MinSize || o.Height < MinSize || o.Width > MaxSize || o.Height > MaxSize {
		return o, fmt.Errorf("plot: image size %d×%d outside %d..%d pixels", o.Width, o.Height, MinSize, MaxSize)
	}
	return o, loadFaces()
}

// Series is one named line of a LineChart: Y[i] is plotted at X[i].
type Series struct {
	Name string
	X, Y []float64
}

// Epochs returns 1, 2, …, n: the X values of a per-epoch curve.
func Epochs(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
	}
	return x
}

// markerLimit is the most points a series may have and still get a dot at
// each point: beyond it dots would merge into a thick line.
const markerLimit = 60

// LineChart draws each series as a line in its own Palette colour, with a
// dot at every point of short series (per-epoch curves), gridded axes
// with nice ticks, a legend of the named series, and the title and axis
// labels of opt. Default size 800×500.
func LineChart(opt Options, series ...Series) (*image.RGBA, error) {
	opt, f, legend, err := lineLayout(opt, series)
	if err != nil {
		return nil, err
	}
	c := newCanvas(opt.Width, opt.Height)
	c.drawYAxis(f)
	c.drawXAxis(f)
	c.drawAxesLines(f.area)
	for i, s := range series {
		pts := make([]pt, len(s.X))
		for j := range s.X {
			pts[j] = pt{f.px(s.X[j]), f.py(s.Y[j])}
		}
		c.stroke(pts, 2.5, Palette[i])
		if len(pts) <= markerLimit {
			c.markers(pts, 3.5, Palette[i])
		}
	}
	c.drawLegend(f.area, legend)
	c.drawChrome(opt, f.area)
	return c.img, nil
}

// lineLayout checks the series and places LineChart's plot area.
func lineLayout(opt Options, series []Series) (Options, frame, []legendEntry, error) {
	var f frame
	opt, err := opt.withDefaults(800, 500)
	if err != nil {
		return opt, f, nil, err
	}
	if len(series) == 0 {
		return opt, f, nil, fmt.Errorf("%w: line chart %q has no series", ErrEmpty, opt.Title)
	}
	if len(series) > len(Palette) {
		return opt, f, nil, fmt.Errorf("plot: line chart %q has %d series, at most %d have distinct colours", opt.Title, len(series), len(Palette))
	}
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	integers := true
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return opt, f, nil, fmt.Errorf("plot: series %q has %d X values and %d Y values", s.Name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return opt, f, nil, fmt.Errorf("%w: series %q is empty", ErrEmpty, s.Name)
		}
		for i := range s.X {
			if err := finite(s.Name, "X", i, s.X[i]); err != nil {
				return opt, f, nil, err
			}
			if err := finite(s.Name, "Y", i, s.Y[i]); err != nil {
				return opt, f, nil, err
			}
			xlo, xhi = math.Min(xlo, s.X[i]), math.Max(xhi, s.X[i])
			ylo, yhi = math.Min(ylo, s.Y[i]), math.Max(yhi, s.Y[i])
			integers = integers && s.X[i] == math.Trunc(s.X[i])
		}
	}
	if f.xa, err = niceAxis(xlo, xhi, 8, integers, false); err != nil {
		return opt, f, nil, fmt.Errorf("plot: line chart %q, X axis: %w", opt.Title, err)
	}
	if f.ya, err = niceAxis(ylo, yhi, 6, false, false); err != nil {
		return opt, f, nil, fmt.Errorf("plot: line chart %q, Y axis: %w", opt.Title, err)
	}
	var legend []legendEntry
	for i, s := range series {
		if s.Name != "" {
			legend = append(legend, legendEntry{name: s.Name, col: Palette[i]})
		}
	}
	f.area = chartLayout(opt, yTickWidth(f.ya), legendWidth(legend))
	return opt, f, legend, nil
}

// finite fails on NaN and infinite values, naming where they sit.
func finite(series, coord string, i int, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("plot: series %q: %s[%d] is %v", series, coord, i, v)
	}
	return nil
}

// ROCCurve draws a receiver operating characteristic: the curve through
// (fpr[i], tpr[i]), the dashed chance diagonal, and the AUC in the title,
// on a square 500×500 image.
func ROCCurve(fpr, tpr []float64, auc float64) (*image.RGBA, error) {
	return ROCChart(Options{XLabel: "False positive rate", YLabel: "True positive rate"}, fpr, tpr, auc)
}

// ROCChart is ROCCurve with the title, labels and size of opt; the AUC is
// appended to the title.
func ROCChart(opt Options, fpr, tpr []float64, auc float64) (*image.RGBA, error) {
	opt, err := opt.withDefaults(500, 500)
	if err != nil {
		return nil, err
	}
	if len(fpr) != len(tpr) {
		return nil, fmt.Errorf("plot: ROC curve has %d FPR values and %d TPR values", len(fpr), len(tpr))
	}
	if len(fpr) == 0 {
		return nil, fmt.Errorf("%w: ROC curve has no points", ErrEmpty)
	}
	for i := range fpr {
		for _, v := range []struct {
			name string
			x    float64
		}{{"FPR", fpr[i]}, {"TPR", tpr[i]}} {
			if !(v.x >= 0 && v.x <= 1) {
				return nil, fmt.Errorf("plot: ROC curve: %s[%d] = %v is not a rate in [0, 1]", v.name, i, v.x)
			}
		}
	}
	if !(auc >= 0 && auc <= 1) {
		return nil, fmt.Errorf("plot: ROC curve: AUC %v is not in [0, 1]", auc)
	}
	if opt.Title == "" {
		opt.Title = "ROC curve"
	}
	opt.Title = fmt.Sprintf("%s (AUC = %.3f)", opt.Title, auc)
	unit := axis{min: 0, max: 1, step: 0.2, ticks: []float64{0, 0.2, 0.4, 0.6, 0.8, 1}}
	f := frame{xa: unit, ya: unit}
	f.area = chartLayout(opt, yTickWidth(unit), 0)
	c := newCanvas(opt.Width, opt.Height)
	c.drawYAxis(f)
	c.drawXAxis(f)
	c.drawAxesLines(f.area)
	c.dashed(pt{f.px(0), f.py(0)}, pt{f.px(1), f.py(1)}, 1.5, 6, 5, chanceInk)
	pts := make([]pt, len(fpr))
	for i := range fpr {
		pts[i] = pt{f.px(fpr[i]), f.py(tpr[i])}
	}
	c.stroke(pts, 2.5, Palette[0])
	c.drawChrome(opt, f.area)
	return c.img, nil
}

// BarGroup is one series of a BarChart: Values[i] is the bar for
// category i.
type BarGroup struct {
	Name   string
	Values []float64
}

// BarChart draws one slot per category; within it, one bar per group side
// by side in Palette colours, each labelled with its value where it fits.
// Bars grow from zero. A legend names the groups when there are several
// (e.g. categories = splits, groups = label 0 and label 1). Default size
// 800×500.
func BarChart(opt Options, categories []string, groups ...BarGroup) (*image.RGBA, error) {
	opt, f, legend, integers, err := barLayout(opt, categories, groups)
	if err != nil {
		return nil, err
	}
	c := newCanvas(opt.Width, opt.Height)
	c.drawYAxis(f)
	zero := f.py(0)
	for ci, cat := range categories {
		for gi, g := range groups {
			v := g.Values[ci]
			r := barRect(f, len(categories), len(groups), ci, gi, v)
			c.fillRect(r, Palette[gi])
			s := f.ya.label(v)
			if integers {
				s = strconv.FormatFloat(v, 'f', 0, 64)
			}
			if textWidth(faces.tick, s) <= r.Dx()+6 {
				ly := r.Min.Y - 9
				if v < 0 {
					ly = r.Max.Y + 9
				}
				c.text(faces.tick, s, (r.Min.X+r.Max.X)/2, ly, alignCenter, ink)
			}
		}
		slot := float64(f.area.Dx()) / float64(len(categories))
		c.text(faces.label, fit(cat, int(slot)-4), int(float64(f.area.Min.X)+slot*(float64(ci)+0.5)), f.area.Max.Y+16, alignCenter, ink)
	}
	c.hline(f.area.Min.X, f.area.Max.X, int(math.Round(zero)), axisGrey)
	c.drawAxesLines(f.area)
	c.drawLegend(f.area, legend)
	c.drawChrome(opt, f.area)
	return c.img, nil
}

// barRect is the rectangle of group gi's bar in category ci: each
// category's slot keeps a tenth of its width free on either side.
func barRect(f frame, nCat, nGroup, ci, gi int, v float64) image.Rectangle {
	slot := float64(f.area.Dx()) / float64(nCat)
	barW := slot * 0.8 / float64(nGroup)
	x0 := float64(f.area.Min.X) + slot*float64(ci) + slot*0.1 + barW*float64(gi)
	y, zero := f.py(v), f.py(0)
	return image.Rect(int(math.Round(x0))+1, int(math.Round(math.Min(y, zero))), int(math.Round(x0+barW)), int(math.Round(math.Max(y, zero))))
}

// barLayout checks the bars and places BarChart's plot area.
func barLayout(opt Options, categories []string, groups []BarGroup) (Options, frame, []legendEntry, bool, error) {
	var f frame
	opt, err := opt.withDefaults(800, 500)
	if err != nil {
		return opt, f, nil, false, err
	}
	if len(categories) == 0 || len(groups) == 0 {
		return opt, f, nil, false, fmt.Errorf("%w: bar chart %q has %d categories and %d groups", ErrEmpty, opt.Title, len(categories), len(groups))
	}
	if len(groups) > len(Palette) {
		return opt, f, nil, false, fmt.Errorf("plot: bar chart %q has %d groups, at most %d have distinct colours", opt.Title, len(groups), len(Palette))
	}
	lo, hi := 0.0, 0.0
	integers := true
	for _, g := range groups {
		if len(g.Values) != len(categories) {
			return opt, f, nil, false, fmt.Errorf("plot: bar group %q has %d values for %d categories", g.Name, len(g.Values), len(categories))
		}
		for i, v := range g.Values {
			if err := finite(g.Name, "value", i, v); err != nil {
				return opt, f, nil, false, err
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			integers = integers && v == math.Trunc(v)
		}
	}
	if f.ya, err = niceAxis(lo, hi, 6, integers, true); err != nil {
		return opt, f, nil, false, fmt.Errorf("plot: bar chart %q: %w", opt.Title, err)
	}
	var legend []legendEntry
	if len(groups) > 1 {
		for i, g := range groups {
			legend = append(legend, legendEntry{name: g.Name, col: Palette[i], bar: true})
		}
	}
	f.area = chartLayout(opt, yTickWidth(f.ya), legendWidth(legend))
	return opt, f, legend, integers, nil
}

// fit shortens s with an ellipsis until it is at most w pixels wide.
func fit(s string, w int) string {
	if textWidth(faces.label, s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if t := string(r) + "…"; textWidth(faces.label, t) <= w {
			return t
		}
	}
	return string(r)
}

// EncodePNG writes img as a PNG with default compression. The encoder is
// deterministic: the same image always gives the same bytes.
func EncodePNG(w io.Writer, img image.Image) error {
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("plot: encoding PNG: %w", err)
	}
	return nil
}

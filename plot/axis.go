package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
)

// axis is a numeric scale with "nice" tick values (1, 2 or 5 × 10^k apart).
type axis struct {
	min, max float64
	ticks    []float64
	step     float64
}

// niceAxis covers [lo, hi] with about target ticks. With integers set the
// step is a whole number (epochs, counts); with zero set the range
// includes 0 (bars grow from it). Ranges that floating point cannot
// split into ticks (near ±MaxFloat64) are an error.
func niceAxis(lo, hi float64, target int, integers, zero bool) (axis, error) {
	if zero {
		lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	}
	step := niceNum((hi-lo)/float64(target-1), true)
	if hi == lo || step == 0 || math.IsNaN(step) {
		// One value (or a spread below float resolution): centre it.
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		if zero && lo == 0 {
			lo, hi = 0, d
		} else {
			lo, hi = lo-d, hi+d
		}
		step = niceNum((hi-lo)/float64(target-1), true)
	}
	if integers && step < 1 {
		step = 1
	}
	// The 1e-9 slack keeps 5e-6/1e-6 = 5.000000000000001 from adding a tick.
	dec := decimals(step)
	a := axis{min: roundTo(math.Floor(lo/step+1e-9)*step, dec), max: roundTo(math.Ceil(hi/step-1e-9)*step, dec), step: step}
	if n := (a.max - a.min) / step; math.IsInf(a.min, 0) || math.IsInf(a.max, 0) || math.IsNaN(n) || n > 100 || !(a.max > a.min) {
		return axis{}, fmt.Errorf("values from %g to %g are too large or too close to plot", lo, hi)
	}
	for i := 0; ; i++ {
		v := a.min + float64(i)*step
		if v > a.max+step*1e-9 {
			break
		}
		// Snap values like 0.30000000000000004 to the decimal they mean.
		a.ticks = append(a.ticks, roundTo(v, dec))
	}
	return a, nil
}

// niceNum returns a 1, 2, 5 (or, unrounded, 10) multiple of a power of ten
// close to x: the classic "nice numbers for graph labels" rule.
func niceNum(x float64, round bool) float64 {
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	switch {
	case round && f < 1.5:
		nf = 1
	case round && f < 3:
		nf = 2
	case round && f < 7:
		nf = 5
	case round:
		nf = 10
	case f <= 1:
		nf = 1
	case f <= 2:
		nf = 2
	case f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, exp)
}

// decimals is how many decimal places show step exactly; -1 when more
// than 12 would be needed (such steps are labelled in exponent form).
func decimals(step float64) int {
	for d := 0; d <= 12; d++ {
		s := step * math.Pow(10, float64(d))
		if math.Abs(s-math.Round(s)) < 1e-6*s {
			return d
		}
	}
	return -1
}

// roundTo rounds v to d decimal places; d < 0 leaves it alone.
func roundTo(v float64, d int) float64 {
	if d < 0 {
		return v
	}
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// label formats a tick value with the decimals its step needs; very large
// or tiny scales switch to exponent form.
func (a axis) label(v float64) string {
	if v == 0 {
		return "0"
	}
	if m := math.Max(math.Abs(a.min), math.Abs(a.max)); m >= 1e7 || a.step < 1e-4 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', max(decimals(a.step), 0), 64)
}

// frame is the plot area inside a chart, with the scales mapping data to
// pixels.
type frame struct {
	area   image.Rectangle
	xa, ya axis
}

// px maps a data X to a pixel column (fractional).
func (f frame) px(x float64) float64 {
	return float64(f.area.Min.X) + (x-f.xa.min)/(f.xa.max-f.xa.min)*float64(f.area.Dx())
}

// py maps a data Y to a pixel row (fractional; Y grows downwards).
func (f frame) py(y float64) float64 {
	return float64(f.area.Max.Y) - (y-f.ya.min)/(f.ya.max-f.ya.min)*float64(f.area.Dy())
}

// chartLayout reserves room around the plot area for the title, the Y
// tick labels and axis label, the X tick labels and axis label, and a
// legend on the right; it returns the plot area.
func chartLayout(opt Options, yTickW, legendW int) image.Rectangle {
	top := 16
	if opt.Title != "" {
		top = 44
	}
	left := 12 + yTickW + 8
	if opt.YLabel != "" {
		left += 22
	}
	bottom := 34
	if opt.XLabel != "" {
		bottom += 22
	}
	right := 24
	if legendW > 0 {
		right = legendW + 24
	}
	return image.Rect(left, top, opt.Width-right, opt.Height-bottom)
}

// drawChrome draws the title and axis labels around the plot area.
func (c *canvas) drawChrome(opt Options, area image.Rectangle) {
	if opt.Title != "" {
		c.text(faces.title, opt.Title, (area.Min.X+area.Max.X)/2, 22, alignCenter, ink)
	}
	if opt.XLabel != "" {
		c.text(faces.label, opt.XLabel, (area.Min.X+area.Max.X)/2, opt.Height-14, alignCenter, ink)
	}
	if opt.YLabel != "" {
		c.vtext(faces.label, opt.YLabel, 14, (area.Min.Y+area.Max.Y)/2, ink)
	}
}

// drawYAxis draws horizontal grid lines and labels at the Y ticks.
func (c *canvas) drawYAxis(f frame) {
	for _, t := range f.ya.ticks {
		y := int(math.Round(f.py(t)))
		c.hline(f.area.Min.X, f.area.Max.X, y, gridGrey)
		c.hline(f.area.Min.X-5, f.area.Min.X-1, y, axisGrey)
		c.text(faces.tick, f.ya.label(t), f.area.Min.X-8, y, alignRight, ink)
	}
}

// drawXAxis draws vertical grid lines and labels at the X ticks.
func (c *canvas) drawXAxis(f frame) {
	for _, t := range f.xa.ticks {
		x := int(math.Round(f.px(t)))
		c.vline(x, f.area.Min.Y, f.area.Max.Y, gridGrey)
		c.vline(x, f.area.Max.Y+1, f.area.Max.Y+5, axisGrey)
		c.text(faces.tick, f.xa.label(t), x, f.area.Max.Y+16, alignCenter, ink)
	}
}

// drawAxesLines draws the left and bottom axis lines over the grid.
func (c *canvas) drawAxesLines(area image.Rectangle) {
	c.vline(area.Min.X, area.Min.Y, area.Max.Y, axisGrey)
	c.hline(area.Min.X, area.Max.X, area.Max.Y, axisGrey)
}

// yTickWidth is the width of the widest Y tick label.
func yTickWidth(a axis) int {
	w := 0
	for _, t := range a.ticks {
		w = max(w, textWidth(faces.tick, a.label(t)))
	}
	return w
}

// legendEntry is one line of a legend.
type legendEntry struct {
	name string
	col  color.RGBA
	bar  bool
}

// legendWidth is the room a legend of these names needs; 0 for none.
func legendWidth(entries []legendEntry) int {
	w := 0
	for _, e := range entries {
		w = max(w, textWidth(faces.label, e.name))
	}
	if w == 0 {
		return 0
	}
	return w + 32
}

// drawLegend lists entries to the right of the plot area, top aligned.
func (c *canvas) drawLegend(area image.Rectangle, entries []legendEntry) {
	x := area.Max.X + 16
	for i, e := range entries {
		y := area.Min.Y + 8 + 20*i
		if e.bar {
			c.fillRect(image.Rect(x, y-6, x+18, y+6), e.col)
		} else {
			c.stroke([]pt{{float64(x), float64(y) + .5}, {float64(x + 18), float64(y) + .5}}, 2.5, e.col)
		}
		c.text(faces.label, e.name, x+24, y, alignLeft, ink)
	}
}

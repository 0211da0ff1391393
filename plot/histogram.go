package plot

import (
	"fmt"
	"image"
	"math"
)

// MaxBins bounds Histogram's bin count: beyond it bars are thinner than a
// pixel at the default size.
const MaxBins = 400

// Histogram draws how values spread over bins equal-width bins (text
// lengths, scores). The bins span the data's range rounded out to nice
// tick values; a value on the upper edge counts in the last bin. Default
// size 800×500.
func Histogram(opt Options, values []float64, bins int) (*image.RGBA, error) {
	opt, f, edges, counts, err := histLayout(opt, values, bins)
	if err != nil {
		return nil, err
	}
	c := newCanvas(opt.Width, opt.Height)
	c.drawYAxis(f)
	c.drawXAxis(f)
	for i, n := range counts {
		c.fillRect(histRect(f, edges[i], edges[i+1], n), Palette[0])
	}
	c.drawAxesLines(f.area)
	c.drawChrome(opt, f.area)
	return c.img, nil
}

// histRect is the bar of one bin, a pixel narrower on the left so
// neighbouring bars stay apart.
func histRect(f frame, lo, hi float64, n int) image.Rectangle {
	return image.Rect(int(math.Round(f.px(lo)))+1, int(math.Round(f.py(float64(n)))), int(math.Round(f.px(hi))), int(math.Round(f.py(0))))
}

// histLayout checks the input, counts the bins and places the plot area.
func histLayout(opt Options, values []float64, bins int) (Options, frame, []float64, []int, error) {
	var f frame
	opt, err := opt.withDefaults(800, 500)
	if err != nil {
		return opt, f, nil, nil, err
	}
	if len(values) == 0 {
		return opt, f, nil, nil, fmt.Errorf("%w: histogram %q has no values", ErrEmpty, opt.Title)
	}
	if bins < 1 || bins > MaxBins {
		return opt, f, nil, nil, fmt.Errorf("plot: histogram %q: %d bins, want 1..%d", opt.Title, bins, MaxBins)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range values {
		if err := finite(opt.Title, "value", i, v); err != nil {
			return opt, f, nil, nil, err
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if f.xa, err = niceAxis(lo, hi, 8, false, false); err != nil {
		return opt, f, nil, nil, fmt.Errorf("plot: histogram %q: %w", opt.Title, err)
	}
	edges := make([]float64, bins+1)
	width := (f.xa.max - f.xa.min) / float64(bins)
	for i := range edges {
		edges[i] = f.xa.min + width*float64(i)
	}
	edges[bins] = f.xa.max
	counts := make([]int, bins)
	most := 0
	for _, v := range values {
		b := min(int((v-f.xa.min)/width), bins-1)
		counts[b]++
		most = max(most, counts[b])
	}
	if f.ya, err = niceAxis(0, float64(most), 6, true, true); err != nil {
		return opt, f, nil, nil, fmt.Errorf("plot: histogram %q: %w", opt.Title, err)
	}
	f.area = chartLayout(opt, yTickWidth(f.ya), 0)
	return opt, f, edges, counts, nil
}

package plot

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"
)

// near reports whether two colours differ by at most tol per channel.
func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func at(img *image.RGBA, x, y float64) color.RGBA {
	return img.RGBAAt(int(math.Floor(x)), int(math.Floor(y)))
}

var (
	epochs = Epochs(5)
	loss   = []float64{0.69, 0.52, 0.41, 0.37, 0.35}
	auroc  = []float64{0.55, 0.68, 0.77, 0.81, 0.83}
)

func TestLineChartDrawsPointsAndSegments(t *testing.T) {
	opt := Options{Title: "Training", XLabel: "Epoch", YLabel: "Loss / AUROC", Width: 640, Height: 400}
	series := []Series{{Name: "loss", X: epochs, Y: loss}, {Name: "AUROC", X: epochs, Y: auroc}}
	img, err := LineChart(opt, series...)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 400 {
		t.Fatalf("size %v, want 640×400", b)
	}
	_, f, _, err := lineLayout(opt, series)
	if err != nil {
		t.Fatal(err)
	}
	for si, s := range series {
		for i := range s.X {
			// Each point carries a marker in the series colour.
			if got := at(img, f.px(s.X[i]), f.py(s.Y[i])); got != Palette[si] {
				t.Errorf("%s point %d at (%.1f, %.1f): colour %v, want %v", s.Name, i, f.px(s.X[i]), f.py(s.Y[i]), got, Palette[si])
			}
			// Half way to the next point the line is there too.
			if i+1 < len(s.X) {
				mx, my := (f.px(s.X[i])+f.px(s.X[i+1]))/2, (f.py(s.Y[i])+f.py(s.Y[i+1]))/2
				if got := at(img, mx, my); !near(got, Palette[si], 60) {
					t.Errorf("%s segment %d midpoint: colour %v, want near %v", s.Name, i, got, Palette[si])
				}
			}
		}
	}
	// Far from both curves (bottom right, above the axis) the plot area
	// is background: white or a grid line.
	for _, p := range [][2]float64{{f.px(4.5), f.py(0.45)}, {f.px(1.5), f.py(0.8)}} {
		if got := at(img, p[0], p[1]); got != white && got != gridGrey {
			t.Errorf("empty plot area at %v is %v", p, got)
		}
	}
	// The legend sits right of the plot area with both colours.
	var legendColours []color.RGBA
	for y := f.area.Min.Y; y < f.area.Min.Y+60; y++ {
		c := img.RGBAAt(f.area.Max.X+25, y)
		if (c == Palette[0] || c == Palette[1]) && !slices.Contains(legendColours, c) {
			legendColours = append(legendColours, c)
		}
	}
	if len(legendColours) != 2 {
		t.Errorf("legend colours %v, want both series", legendColours)
	}
	// Title, axis labels and tick labels leave ink outside the plot area.
	if inkIn(img, image.Rect(0, 0, 640, f.area.Min.Y-4)) == 0 {
		t.Error("no title drawn")
	}
	if inkIn(img, image.Rect(0, f.area.Min.Y, 24, f.area.Max.Y)) == 0 {
		t.Error("no Y label drawn")
	}
	if inkIn(img, image.Rect(f.area.Min.X, f.area.Max.Y+6, f.area.Max.X, 400)) == 0 {
		t.Error("no X ticks or label drawn")
	}
}

// inkIn counts dark (text) pixels in r.
func inkIn(img *image.RGBA, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := img.RGBAAt(x, y); c.R < 120 && c.G < 120 && c.B < 120 {
				n++
			}
		}
	}
	return n
}

func TestLineChartLongSeriesHasNoMarkers(t *testing.T) {
	n := 500
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i)
		y[i] = math.Sin(float64(i) / 40)
	}
	opt := Options{}
	s := Series{Name: "sin", X: x, Y: y}
	img, err := LineChart(opt, s)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 500 {
		t.Fatalf("default size %v, want 800×500", b)
	}
	_, f, _, _ := lineLayout(opt, []Series{s})
	for _, i := range []int{0, 63, 250, 499} {
		if got := at(img, f.px(x[i]), f.py(y[i])); !near(got, Palette[0], 60) {
			t.Errorf("point %d: colour %v, want near %v", i, got, Palette[0])
		}
	}
	// 2.5 px line, no 3.5 px marker: 4 px above a point is off the line
	// where the curve is flat (its top, i ≈ 63).
	if got := at(img, f.px(x[63]), f.py(y[63])-4); near(got, Palette[0], 60) {
		t.Errorf("line too thick above the crest: %v", got)
	}
}

func TestLineChartSinglePoint(t *testing.T) {
	img, err := LineChart(Options{}, Series{Name: "one", X: []float64{3}, Y: []float64{0.5}})
	if err != nil {
		t.Fatal(err)
	}
	_, f, _, _ := lineLayout(Options{}, []Series{{Name: "one", X: []float64{3}, Y: []float64{0.5}}})
	if got := at(img, f.px(3), f.py(0.5)); got != Palette[0] {
		t.Errorf("single point colour %v", got)
	}
	if f.px(3) <= float64(f.area.Min.X) || f.px(3) >= float64(f.area.Max.X) {
		t.Errorf("single point not inside the plot area")
	}
}

func TestROCCurve(t *testing.T) {
	fpr := []float64{0, 0.1, 0.3, 1}
	tpr := []float64{0, 0.6, 0.9, 1}
	img, err := ROCCurve(fpr, tpr, 0.87)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 500 {
		t.Fatalf("size %v, want 500×500", b)
	}
	opt, _ := Options{}.withDefaults(500, 500)
	unit := axis{min: 0, max: 1, step: 0.2, ticks: []float64{0, 0.2, 0.4, 0.6, 0.8, 1}}
	opt.Title, opt.XLabel, opt.YLabel = "t", "x", "y"
	f := frame{xa: unit, ya: unit, area: chartLayout(opt, yTickWidth(unit), 0)}
	for i := 1; i < len(fpr); i++ {
		mx, my := (f.px(fpr[i-1])+f.px(fpr[i]))/2, (f.py(tpr[i-1])+f.py(tpr[i]))/2
		if got := at(img, mx, my); !near(got, Palette[0], 60) {
			t.Errorf("ROC segment %d midpoint colour %v", i, got)
		}
	}
	// The chance diagonal is dashed: grey dashes with gaps along it.
	dash, gap := 0, 0
	for v := 0.45; v < 0.75; v += 0.002 {
		c := at(img, f.px(v), f.py(v))
		switch {
		case near(c, chanceInk, 50):
			dash++
		case c == white || c == gridGrey:
			gap++
		}
	}
	if dash == 0 || gap == 0 {
		t.Errorf("diagonal: %d dash and %d gap samples, want both", dash, gap)
	}
}

func TestBarChartBars(t *testing.T) {
	cats := []string{"train", "dev_seen", "a_very_long_split_name_that_cannot_fit"}
	groups := []BarGroup{{Name: "not hateful", Values: []float64{5481, 253, 0}}, {Name: "hateful", Values: []float64{3019, 247, 12}}}
	opt := Options{Title: "Counts"}
	img, err := BarChart(opt, cats, groups...)
	if err != nil {
		t.Fatal(err)
	}
	_, f, _, _, err := barLayout(opt, cats, groups)
	if err != nil {
		t.Fatal(err)
	}
	if f.ya.min != 0 || f.ya.max < 5481 {
		t.Errorf("Y axis %v..%v does not cover 0..5481", f.ya.min, f.ya.max)
	}
	for ci := range cats {
		for gi, g := range groups {
			r := barRect(f, len(cats), len(groups), ci, gi, g.Values[ci])
			if g.Values[ci] == 0 {
				if !r.Empty() {
					t.Errorf("zero bar %v has area", r)
				}
				continue
			}
			mid := img.RGBAAt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
			if mid != Palette[gi] {
				t.Errorf("bar %s/%s centre %v, want %v", cats[ci], g.Name, mid, Palette[gi])
			}
			// The bar's top edge is where the scale puts the value.
			if want := f.py(g.Values[ci]); math.Abs(float64(r.Min.Y)-want) > 1 {
				t.Errorf("bar %s/%s top %d, want %.1f", cats[ci], g.Name, r.Min.Y, want)
			}
			// Just above the value label, the slot is background.
			if c := img.RGBAAt((r.Min.X+r.Max.X)/2, r.Min.Y-22); c == Palette[gi] {
				t.Errorf("bar %s/%s taller than its value", cats[ci], g.Name)
			}
		}
	}
	if !strings.HasSuffix(fit(cats[2], 100), "…") {
		t.Errorf("long category not shortened: %q", fit(cats[2], 100))
	}
}

func TestBarChartNegative(t *testing.T) {
	opt := Options{}
	cats := []string{"a", "b"}
	groups := []BarGroup{{Name: "delta", Values: []float64{-3, 5}}}
	img, err := BarChart(opt, cats, groups...)
	if err != nil {
		t.Fatal(err)
	}
	_, f, _, _, _ := barLayout(opt, cats, groups)
	r := barRect(f, 2, 1, 0, 0, -3)
	if float64(r.Min.Y) < f.py(0)-1 || img.RGBAAt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2) != Palette[0] {
		t.Errorf("negative bar %v should hang below zero at %.1f", r, f.py(0))
	}
}

func TestBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		draw    func() (*image.RGBA, error)
		want    string
		isEmpty bool
	}{
		{"no series", func() (*image.RGBA, error) { return LineChart(Options{Title: "T"}) }, `line chart "T" has no series`, true},
		{"empty series", func() (*image.RGBA, error) { return LineChart(Options{}, Series{Name: "s"}) }, `series "s" is empty`, true},
		{"NaN Y", func() (*image.RGBA, error) {
			return LineChart(Options{}, Series{Name: "loss", X: epochs, Y: []float64{1, 2, nan, 4, 5}})
		}, `series "loss": Y[2] is NaN`, false},
		{"Inf X", func() (*image.RGBA, error) {
			return LineChart(Options{}, Series{Name: "x", X: []float64{0, inf}, Y: []float64{1, 2}})
		}, `series "x": X[1] is +Inf`, false},
		{"length mismatch", func() (*image.RGBA, error) {
			return LineChart(Options{}, Series{Name: "m", X: epochs, Y: loss[:3]})
		}, `series "m" has 5 X values and 3 Y values`, false},
		{"too many series", func() (*image.RGBA, error) {
			return LineChart(Options{}, make([]Series, 11)...)
		}, "11 series", false},
		{"tiny image", func() (*image.RGBA, error) {
			return LineChart(Options{Width: 50}, Series{X: epochs, Y: loss})
		}, "image size 50×500", false},
		{"huge range", func() (*image.RGBA, error) {
			return LineChart(Options{}, Series{Name: "h", X: []float64{0, 1}, Y: []float64{-math.MaxFloat64, math.MaxFloat64}})
		}, "Y axis: values from", false},
		{"ROC empty", func() (*image.RGBA, error) { return ROCCurve(nil, nil, 0.5) }, "ROC curve has no points", true},
		{"ROC mismatch", func() (*image.RGBA, error) { return ROCCurve([]float64{0}, []float64{0, 1}, 0.5) }, "1 FPR values and 2 TPR", false},
		{"ROC NaN", func() (*image.RGBA, error) { return ROCCurve([]float64{0, nan}, []float64{0, 1}, 0.5) }, "FPR[1] = NaN", false},
		{"ROC rate", func() (*image.RGBA, error) { return ROCCurve([]float64{0, 1}, []float64{0, 1.5}, 0.5) }, "TPR[1] = 1.5", false},
		{"ROC AUC", func() (*image.RGBA, error) { return ROCCurve([]float64{0, 1}, []float64{0, 1}, nan) }, "AUC NaN", false},
		{"bars empty", func() (*image.RGBA, error) { return BarChart(Options{Title: "B"}, nil) }, `bar chart "B" has 0 categories and 0 groups`, true},
		{"bars mismatch", func() (*image.RGBA, error) {
			return BarChart(Options{}, []string{"a", "b"}, BarGroup{Name: "g", Values: []float64{1}})
		}, `bar group "g" has 1 values for 2 categories`, false},
		{"bars Inf", func() (*image.RGBA, error) {
			return BarChart(Options{}, []string{"a"}, BarGroup{Name: "g", Values: []float64{-inf}})
		}, `series "g": value[0] is -Inf`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := tc.draw()
			if err == nil || img != nil {
				t.Fatalf("got image %v, error %v; want error containing %q", img != nil, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "plot: ") {
				t.Errorf("error %q, want it to start with plot: and contain %q", err, tc.want)
			}
			if errors.Is(err, ErrEmpty) != tc.isEmpty {
				t.Errorf("errors.Is(err, ErrEmpty) = %v, want %v", !tc.isEmpty, tc.isEmpty)
			}
		})
	}
}

func TestDeterministicPNG(t *testing.T) {
	render := func() []byte {
		img, err := LineChart(Options{Title: "Loss"}, Series{Name: "train", X: epochs, Y: loss})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := EncodePNG(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := render(), render()
	if !bytes.Equal(a, b) {
		t.Fatal("same chart gave different PNG bytes")
	}
	img, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 800 || img.Bounds().Dy() != 500 {
		t.Errorf("decoded size %v", img.Bounds())
	}
}

func TestNiceAxis(t *testing.T) {
	tests := []struct {
		lo, hi         float64
		target         int
		integers, zero bool
		wantTicks      []float64
		wantLabels     []string
	}{
		{0.29, 0.69, 6, false, false, []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7}, []string{"0.2", "0.3", "0.4", "0.5", "0.6", "0.7"}},
		{1, 3, 8, true, false, []float64{1, 2, 3}, []string{"1", "2", "3"}},
		{1, 10, 8, true, false, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil},
		{1, 30, 8, true, false, []float64{0, 5, 10, 15, 20, 25, 30}, nil},
		{0, 5481, 6, true, true, []float64{0, 1000, 2000, 3000, 4000, 5000, 6000}, nil},
		{12, 30, 6, true, true, []float64{0, 5, 10, 15, 20, 25, 30}, nil},
		{0.5, 0.5, 6, false, false, []float64{0.44, 0.46, 0.48, 0.5, 0.52, 0.54, 0.56}, []string{"0.44", "0.46", "0.48", "0.50", "0.52", "0.54", "0.56"}},
		{0, 0, 6, true, true, []float64{0, 1}, nil},
		{-0.25, 0.25, 6, false, false, []float64{-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3}, []string{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}},
		{1e-6, 5e-6, 6, false, false, []float64{1e-6, 2e-6, 3e-6, 4e-6, 5e-6}, []string{"1e-06", "2e-06", "3e-06", "4e-06", "5e-06"}},
	}
	for _, tc := range tests {
		a, err := niceAxis(tc.lo, tc.hi, tc.target, tc.integers, tc.zero)
		if err != nil {
			t.Errorf("niceAxis(%g, %g): %v", tc.lo, tc.hi, err)
			continue
		}
		if !slices.Equal(a.ticks, tc.wantTicks) {
			t.Errorf("niceAxis(%g, %g) ticks %v, want %v", tc.lo, tc.hi, a.ticks, tc.wantTicks)
		}
		if a.min > tc.lo || a.max < tc.hi {
			t.Errorf("niceAxis(%g, %g) = %g..%g does not cover the data", tc.lo, tc.hi, a.min, a.max)
		}
		if tc.wantLabels != nil {
			var got []string
			for _, v := range a.ticks {
				got = append(got, a.label(v))
			}
			if !slices.Equal(got, tc.wantLabels) {
				t.Errorf("niceAxis(%g, %g) labels %v, want %v", tc.lo, tc.hi, got, tc.wantLabels)
			}
		}
	}
}

// FuzzLineChart feeds arbitrary values to LineChart: it must draw or
// return an error, never panic or hang.
func FuzzLineChart(f *testing.F) {
	f.Add(0.0, 1.0, 2.0, 0.5)
	f.Add(1e308, -1e308, 0.0, 1.0)
	f.Add(5e-324, 5e-324, 5e-324, 0.0)
	f.Add(math.NaN(), 0.0, 1.0, 2.0)
	f.Fuzz(func(t *testing.T, a, b, c, x float64) {
		img, err := LineChart(Options{Width: 200, Height: 200}, Series{Name: "f", X: []float64{0, x, 2}, Y: []float64{a, b, c}})
		if (img == nil) == (err == nil) {
			t.Fatalf("image %v with error %v", img != nil, err)
		}
		img, err = BarChart(Options{Width: 200, Height: 200}, []string{"a", "b", "c"}, BarGroup{Name: "g", Values: []float64{a, b, c}})
		if (img == nil) == (err == nil) {
			t.Fatalf("bar image %v with error %v", img != nil, err)
		}
		img, err = Histogram(Options{Width: 200, Height: 200}, []float64{a, b, c, x}, 7)
		if (img == nil) == (err == nil) {
			t.Fatalf("histogram image %v with error %v", img != nil, err)
		}
	})
}

func BenchmarkLineChart(b *testing.B) {
	x, y := make([]float64, 1000), make([]float64, 1000)
	for i := range x {
		x[i], y[i] = float64(i), math.Sin(float64(i)/50)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LineChart(Options{}, Series{Name: "s", X: x, Y: y}); err != nil {
			b.Fatal(err)
		}
	}
}

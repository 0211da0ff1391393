package plot

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestHistogram(t *testing.T) {
	// 1..100: ten bins of width 10 over the nice range 0..100, except
	// that 100 lands in the last bin with 91..99 and 1..9 fill the first.
	var values []float64
	for i := 1; i <= 100; i++ {
		values = append(values, float64(i))
	}
	opt := Options{Title: "Caption length", XLabel: "words"}
	img, err := Histogram(opt, values, 10)
	if err != nil {
		t.Fatal(err)
	}
	_, f, edges, counts, err := histLayout(opt, values, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{9, 10, 10, 10, 10, 10, 10, 10, 10, 11}; !slices.Equal(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	if edges[0] != 0 || edges[10] != 100 {
		t.Errorf("edges %v", edges)
	}
	for i, n := range counts {
		r := histRect(f, edges[i], edges[i+1], n)
		if got := img.RGBAAt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2); got != Palette[0] {
			t.Errorf("bin %d centre %v", i, got)
		}
		if math.Abs(float64(r.Min.Y)-f.py(float64(n))) > 1 {
			t.Errorf("bin %d top %d, want %.1f", i, r.Min.Y, f.py(float64(n)))
		}
		if above := img.RGBAAt((r.Min.X+r.Max.X)/2, r.Min.Y-3); above == Palette[0] {
			t.Errorf("bin %d taller than its count", i)
		}
	}
}

func TestHistogramOneValue(t *testing.T) {
	opt := Options{}
	img, err := Histogram(opt, []float64{7, 7, 7}, 5)
	if err != nil {
		t.Fatal(err)
	}
	_, f, edges, counts, _ := histLayout(opt, []float64{7, 7, 7}, 5)
	total := 0
	for i, n := range counts {
		total += n
		if n > 0 && (edges[i] > 7 || edges[i+1] < 7) {
			t.Errorf("value 7 counted in bin %g..%g", edges[i], edges[i+1])
		}
	}
	if total != 3 || img.Bounds().Dx() != 800 || f.xa.min >= 7 || f.xa.max <= 7 {
		t.Errorf("total %d, axis %g..%g", total, f.xa.min, f.xa.max)
	}
}

func TestHistogramBadInput(t *testing.T) {
	for _, tc := range []struct {
		values []float64
		bins   int
		want   string
		empty  bool
	}{
		{nil, 10, "has no values", true},
		{[]float64{1, math.NaN()}, 10, "value[1] is NaN", false},
		{[]float64{1, 2}, 0, "0 bins", false},
		{[]float64{1, 2}, MaxBins + 1, "401 bins", false},
	} {
		img, err := Histogram(Options{Title: "h"}, tc.values, tc.bins)
		if err == nil || img != nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrEmpty) != tc.empty {
			t.Errorf("Histogram(%v, %d) = %v, want error containing %q", tc.values, tc.bins, err, tc.want)
		}
	}
}

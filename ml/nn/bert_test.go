package nn

import (
	"fmt"
	"math"
	"testing"

	"mmc/ml/tensor"
)

// fdCheck compares the analytic gradient g of the scalar f at the values
// of x with central differences at a few positions.
func fdCheck(t *testing.T, name string, x, g []float32, f func() float64) {
	t.Helper()
	const h = 1e-2
	for _, i := range []int{0, len(x) / 3, len(x) / 2, len(x) - 1} {
		old := x[i]
		x[i] = old + h
		up := f()
		x[i] = old - h
		down := f()
		x[i] = old
		num := (up - down) / (2 * h)
		if d := math.Abs(num - float64(g[i])); d > 2e-2*math.Abs(num)+2e-3 {
			t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", name, i, g[i], num)
		}
	}
}

func weights(n int, seed uint64) []float32 {
	r := tensor.NewRNG(seed)
	w := make([]float32, n)
	for i := range w {
		w[i] = r.NormFloat32()
	}
	return w
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestBertModulesBackward checks each module's hand-written backward on
// its own, with dropout active (the same seed every evaluation, so the
// masks stay fixed), against finite differences of Σ w·y.
func TestBertModulesBackward(t *testing.T) {
	const b, l, hidden, heads, inter = 2, 5, 8, 2, 12
	layer := NewBertLayer(hidden, heads, inter, 0.3, tensor.NewRNG(3))
	for _, p := range Parameters(layer) {
		if p.Name == "attention.output.LayerNorm.weight" || p.Name == "output.LayerNorm.weight" {
			Normal(p.Tensor, 1, tensor.NewRNG(4)) // a γ far from 1
		}
	}
	x := weights(b*l*hidden, 5)
	mask := make([]float32, b*l)
	mask[l-1] = -10000
	w := weights(b*l*hidden, 6)

	t.Run("attention", func(t *testing.T) {
		a := &layer.Attention
		var st AttnState
		var sc AttnScratch
		f := func() float64 {
			return dot(a.Forward(&st, &sc, x, b, l, mask, true, tensor.NewRNG(9)), w)
		}
		f()
		for _, p := range Parameters(a) {
			p.Tensor.Grad = nil
		}
		dx := a.Backward(&st, &sc, w, true, nil)
		fdCheck(t, "x", x, dx, f)
		for _, p := range Parameters(a) {
			fdCheck(t, p.Name, p.Tensor.Data, p.Tensor.Grad, f)
		}
	})
	t.Run("ffn", func(t *testing.T) {
		ff := &layer.FFN
		var st FFNState
		var sc FFNScratch
		f := func() float64 { return dot(ff.Forward(&st, &sc, x, b*l, true, tensor.NewRNG(9)), w) }
		f()
		for _, p := range Parameters(ff) {
			p.Tensor.Grad = nil
		}
		dx := ff.Backward(&st, &sc, x, w, nil)
		fdCheck(t, "x", x, dx, f)
		for _, p := range Parameters(ff) {
			fdCheck(t, p.Name, p.Tensor.Data, p.Tensor.Grad, f)
		}
	})
	t.Run("layer", func(t *testing.T) {
		var st LayerState
		var sc LayerScratch
		f := func() float64 { return dot(layer.Forward(&st, &sc, x, b, l, mask, true, tensor.NewRNG(9)), w) }
		f()
		for _, p := range Parameters(layer) {
			p.Tensor.Grad = nil
		}
		dx := layer.Backward(&st, &sc, w, true, nil)
		fdCheck(t, "x", x, dx, f)
		for _, p := range Parameters(layer) {
			fdCheck(t, p.Name, p.Tensor.Data, p.Tensor.Grad, f)
		}
	})
}

// TestBertLayerConcurrent runs one layer's parameters from two goroutines
// with their own states and scratches and expects the serial results.
func TestBertLayerConcurrent(t *testing.T) {
	layer := NewBertLayer(16, 4, 32, 0.02, tensor.NewRNG(1))
	xs := [][]float32{weights(2*7*16, 1), weights(2*7*16, 2)}
	want := make([][]float32, 2)
	for i, x := range xs {
		var st LayerState
		var sc LayerScratch
		want[i] = append([]float32(nil), layer.Forward(&st, &sc, x, 2, 7, nil, false, nil)...)
	}
	got := make([][]float32, 2)
	done := make(chan int)
	for i, x := range xs {
		go func() {
			var st LayerState
			var sc LayerScratch
			got[i] = layer.Forward(&st, &sc, x, 2, 7, nil, false, nil)
			done <- i
		}()
	}
	<-done
	<-done
	for i := range xs {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("call %d value %d: %v concurrently, %v alone", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestBertLayerSinkMatchesGrad runs a layer large enough for the paired
// gradient products to run side by side, once accumulating into Grad and
// once through a GradSink, and expects the same gradients (run it with
// -race: the pairs share nothing they write).
func TestBertLayerSinkMatchesGrad(t *testing.T) {
	const b, l, hidden, heads, inter = 2, 64, 128, 4, 512
	layer := NewBertLayer(hidden, heads, inter, 0.05, tensor.NewRNG(7))
	x, dy := weights(b*l*hidden, 8), weights(b*l*hidden, 9)
	var st LayerState
	var sc LayerScratch
	layer.Forward(&st, &sc, x, b, l, nil, true, tensor.NewRNG(1))
	dx := append([]float32(nil), layer.Backward(&st, &sc, dy, true, nil)...)
	want := map[string][]float32{}
	for _, p := range Parameters(layer) {
		want[p.Name] = p.Tensor.Grad
		p.Tensor.Grad = nil
	}
	names := map[*tensor.Tensor]string{}
	for _, p := range Parameters(layer) {
		names[p.Tensor] = p.Name
	}
	got := map[string][]float32{}
	var s GradSink
	s.Start(func(p *tensor.Tensor) error {
		got[names[p]] = append([]float32(nil), p.Grad...)
		return nil
	})
	layer.Forward(&st, &sc, x, b, l, nil, true, tensor.NewRNG(1))
	dx2 := layer.Backward(&st, &sc, dy, true, &s)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range dx {
		if dx[i] != dx2[i] {
			t.Fatalf("dx[%d]: %v with a sink, %v without", i, dx2[i], dx[i])
		}
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values through the sink, %d in Grad", name, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s[%d]: %v through the sink, %v in Grad", name, i, g[i], w[i])
			}
		}
	}
}

// TestQKVInPlace checks that the projections NewQKV makes are used as the
// fused product's operand in place (no packed copy), and that they give
// the same output and gradients, bit for bit, as three Linears allocated
// apart, which QKV packs.
func TestQKVInPlace(t *testing.T) {
	const rows, in, out = 70, 24, 16
	rng := tensor.NewRNG(11)
	q, k, v := NewQKV(in, out, func(w *tensor.Tensor) { Normal(w, 0.5, rng) })
	fused := QKV{q, k, v}
	var apart QKV
	for i, l := range fused {
		copyOf := func(p *tensor.Tensor) *tensor.Tensor {
			return tensor.New(append([]float32(nil), p.Data...), p.Shape...).SetRequiresGrad(true)
		}
		l.Bias.Data[0] = float32(i + 1)
		apart[i] = &Linear{Weight: copyOf(l.Weight), Bias: copyOf(l.Bias)}
	}
	if w, b, _, _ := fused.pack(&QKVScratch{}); &w[0] != &q.Weight.Data[0] || &b[0] != &q.Bias.Data[0] {
		t.Fatal("NewQKV's projections were copied for the fused product")
	}
	var sc QKVScratch
	if w, _, _, _ := apart.pack(&sc); &w[0] == &apart[0].Weight.Data[0] || sc.w == nil {
		t.Fatal("separately allocated projections were not packed")
	}
	x, dy := weights(rows*in, 12), weights(rows*3*out, 13)
	run := func(m QKV) (y, dx []float32, grads [][]float32) {
		y, dx = make([]float32, rows*3*out), make([]float32, rows*in)
		var sc QKVScratch
		m.Forward(&sc, y, x, rows)
		m.Backward(&sc, dx, false, dy, x, rows, nil)
		for _, l := range m {
			grads = append(grads, l.Weight.Grad, l.Bias.Grad)
		}
		return y, dx, grads
	}
	y1, dx1, g1 := run(fused)
	y2, dx2, g2 := run(apart)
	same := func(what string, a, b []float32) {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %v in place, %v packed", what, i, a[i], b[i])
			}
		}
	}
	same("y", y1, y2)
	same("dx", dx1, dx2)
	for i := range g1 {
		same("gradient", g1[i], g2[i])
	}
}

// TestKeepContextSameGradients runs a layer with dropout once keeping the
// attention context and once computing it again in the backward pass,
// and expects the same input and parameter gradients, bit for bit.
func TestKeepContextSameGradients(t *testing.T) {
	const b, l, hidden, heads, inter = 2, 9, 16, 4, 32
	layer := NewBertLayer(hidden, heads, inter, 0.2, tensor.NewRNG(5))
	x, dy := weights(b*l*hidden, 6), weights(b*l*hidden, 7)
	run := func(keep bool) (dx []float32, grads map[string][]float32) {
		layer.Attention.KeepContext = keep
		for _, p := range Parameters(layer) {
			p.Tensor.Grad = nil
		}
		var st LayerState
		var sc LayerScratch
		layer.Forward(&st, &sc, x, b, l, nil, true, tensor.NewRNG(2))
		dx = append([]float32(nil), layer.Backward(&st, &sc, dy, true, nil)...)
		grads = map[string][]float32{}
		for _, p := range Parameters(layer) {
			grads[p.Name] = p.Tensor.Grad
		}
		return dx, grads
	}
	dx1, g1 := run(true)
	dx2, g2 := run(false)
	for i := range dx1 {
		if dx1[i] != dx2[i] {
			t.Fatalf("dx[%d]: %v kept, %v recomputed", i, dx1[i], dx2[i])
		}
	}
	for name, g := range g1 {
		for i := range g {
			if g[i] != g2[name][i] {
				t.Fatalf("%s[%d]: %v kept, %v recomputed", name, i, g[i], g2[name][i])
			}
		}
	}
}

// TestFFNRebuild overwrites an FFN's output, as a caller reusing its
// memory does, and expects Rebuild to write back the same values bit for
// bit (the backward pass of the next layer reads them as its input).
func TestFFNRebuild(t *testing.T) {
	layer := NewBertLayer(16, 4, 32, 0.02, tensor.NewRNG(1))
	var st LayerState
	var sc LayerScratch
	y := layer.Forward(&st, &sc, weights(2*7*16, 3), 2, 7, nil, true, tensor.NewRNG(4))
	want := append([]float32(nil), y...)
	for i := range y {
		y[i] = float32(math.NaN())
	}
	layer.FFN.Rebuild(&st.FFN)
	for i, v := range want {
		if st.FFN.Y[i] != v {
			t.Fatalf("Y[%d] = %v rebuilt, %v from Forward", i, st.FFN.Y[i], v)
		}
	}
}

// TestForwardFirstMatchesForward checks ForwardFirst and its backward
// pass against the full layer with the gradient given on the first
// positions only (dropout off: the two draw different masks): the same
// outputs, input gradient and parameter gradients.
func TestForwardFirstMatchesForward(t *testing.T) {
	const b, n, d = 3, 5, 16
	for _, keep := range []bool{false, true} {
		layer := NewBertLayer(d, 4, 32, 0.2, tensor.NewRNG(1))
		layer.Attention.AttnDropout, layer.Attention.Dropout, layer.FFN.Dropout = 0, 0, 0
		layer.Attention.KeepContext = keep
		x := weights(b*n*d, 2)
		mask := make([]float32, b*n)
		mask[n-1], mask[2*n-2] = -10000, -10000 // some keys masked
		dy0 := weights(b*d, 3)
		params := paramTensors(layer)
		grads := func() [][]float32 {
			var g [][]float32
			for _, p := range params {
				g = append(g, append([]float32(nil), p.Grad...))
				p.Grad = nil
			}
			return g
		}

		var st LayerState
		var sc LayerScratch
		full := append([]float32(nil), layer.Forward(&st, &sc, x, b, n, mask, true, tensor.NewRNG(4))...)
		dy := make([]float32, b*n*d)
		for i := range b {
			copy(dy[i*n*d:], dy0[i*d:(i+1)*d])
		}
		dxFull := append([]float32(nil), layer.Backward(&st, &sc, dy, true, nil)...)
		gFull := grads()

		var st1 LayerState
		var sc1 LayerScratch
		first := layer.ForwardFirst(&st1, &sc1, x, b, n, mask, true, tensor.NewRNG(4))
		for i := range b {
			for j := range d {
				if g, w := first[i*d+j], full[i*n*d+j]; math.Abs(float64(g-w)) > 1e-5 {
					t.Fatalf("keep %v: output[%d][%d] = %v, Forward's first row %v", keep, i, j, g, w)
				}
			}
		}
		dx := layer.Backward(&st1, &sc1, dy0, true, nil)
		close := func(name string, g, w []float32) {
			t.Helper()
			if len(g) != len(w) {
				t.Fatalf("keep %v: %s has %d values, want %d", keep, name, len(g), len(w))
			}
			for i := range w {
				if math.Abs(float64(g[i]-w[i])) > 1e-5+1e-4*math.Abs(float64(w[i])) {
					t.Fatalf("keep %v: %s[%d] = %v, full layer %v", keep, name, i, g[i], w[i])
				}
			}
		}
		close("dx", dx, dxFull)
		for i, g := range grads() {
			close(fmt.Sprintf("parameter %d %v", i, params[i].Shape), g, gFull[i])
		}
		// A full pass after a first-position one is a full pass again.
		again := layer.Forward(&st1, &sc1, x, b, n, mask, true, tensor.NewRNG(4))
		close("Forward after ForwardFirst", again, full)
	}
}

package vilbert

import (
	"math"
	"strings"
	"testing"

	"mmc/ml/nn"
	"mmc/ml/tensor"
)

// TestWorkspacesConcurrent runs one model from two goroutines, each with
// its own workspace, and expects the logits of serial calls.
func TestWorkspacesConcurrent(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	ins := []*Inputs{FromBatch(randomBatch(m, 3, 7, 4, 1)), FromBatch(randomBatch(m, 2, 6, 5, 2))}
	want := make([][]float32, len(ins))
	for i, in := range ins {
		out, err := m.Forward(in, true, tensor.NewRNG(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = append([]float32(nil), out.Logits...)
	}
	got := make([][]float32, len(ins))
	errs := make(chan error, len(ins))
	for i, in := range ins {
		go func() {
			out, err := m.ForwardWith(m.NewWorkspace(), in, true, tensor.NewRNG(uint64(i)))
			if err == nil {
				got[i] = out.Logits
			}
			errs <- err
		}()
	}
	for range ins {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range ins {
		for j, v := range want[i] {
			if got[i][j] != v {
				t.Fatalf("call %d logit %d: %v concurrently, %v alone", i, j, got[i][j], v)
			}
		}
	}
}

// TestConnectionLayerBackward checks the connection layer's hand-written
// backward on its own, dropout active with a fixed seed, against finite
// differences of Σ w_img·img' + Σ w_txt·txt'.
func TestConnectionLayerBackward(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	c := &m.Config
	cl := m.Bert.Encoder.CLayer[0]
	b, r, tl := 2, 3, 4
	rng := tensor.NewRNG(5)
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.NormFloat32()
		}
		return s
	}
	img, txt := rnd(b*r*c.VHiddenSize), rnd(b*tl*c.HiddenSize)
	wImg, wTxt := rnd(len(img)), rnd(len(txt))
	imask, tmask := make([]float32, b*r), make([]float32, b*tl)
	imask[r-1], tmask[2*tl-1] = -10000, -10000
	var st connState
	var sc connScratch
	var vis, txs nn.FFNScratch
	loss := func() float64 {
		yi, yt := cl.Forward(&st, &sc, &vis, &txs, img, imask, txt, tmask, b, r, tl, true, tensor.NewRNG(9))
		var s float64
		for i, v := range yi {
			s += float64(v) * float64(wImg[i])
		}
		for i, v := range yt {
			s += float64(v) * float64(wTxt[i])
		}
		return s
	}
	loss()
	for _, p := range walk(cl, "") {
		p.Tensor.Grad = nil
	}
	dImg, dTxt := cl.Backward(&st, &sc, &vis, &txs, append([]float32(nil), wImg...), append([]float32(nil), wTxt...), nil)
	check := func(name string, x, g []float32) {
		const h = 1e-2
		for _, i := range []int{0, len(x) / 2, len(x) - 1} {
			old := x[i]
			x[i] = old + h
			up := loss()
			x[i] = old - h
			down := loss()
			x[i] = old
			num := (up - down) / (2 * h)
			if d := math.Abs(num - float64(g[i])); d > 2e-2*math.Abs(num)+2e-3 {
				t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", name, i, g[i], num)
			}
		}
	}
	check("img", img, append([]float32(nil), dImg...))
	check("txt", txt, append([]float32(nil), dTxt...))
	for _, p := range walk(cl, "") {
		if p.Tensor.Grad != nil { // q_dense1/q_dense2 are never used
			check(p.Name, p.Tensor.Data, p.Tensor.Grad)
		}
	}
}

// TestOutputSurvivesBackward checks that the backward pass, which
// rebuilds the encoder's intermediate states into buffers later layers
// reused, leaves the final states the Output hands out as they were.
func TestOutputSurvivesBackward(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	if len(m.Bert.Encoder.steps) < 4 {
		t.Fatalf("tiny config has %d encoder steps; the test needs states that alternate", len(m.Bert.Encoder.steps))
	}
	in := FromBatch(randomBatch(m, 3, 7, 4, 1))
	out, err := m.Forward(in, true, tensor.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	text, image := append([]float32(nil), out.Text...), append([]float32(nil), out.Image...)
	_, dl, err := CrossEntropy(out.Logits, []int{0, 1, 1}, m.Config.NumLabels)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2][]float32{"Text": {text, out.Text}, "Image": {image, out.Image}} {
		for i, v := range pair[0] {
			if pair[1][i] != v {
				t.Fatalf("Output.%s[%d] = %v after Backward, %v before", name, i, pair[1][i], v)
			}
		}
	}
}

// TestFirstPositionsOnly checks when the last layers compute only the
// first positions (a stream ending in a text or visual layer whose
// positions past the first nothing reads: not the core head's visual
// stream, never under AllPositions), and that the logits and parameter
// gradients are those of the full computation.
func TestFirstPositionsOnly(t *testing.T) {
	type tc struct {
		name       string
		model      func(t *testing.T) (*Model, *Inputs, []int)
		text, imgs bool // whether each stream is cut to its first positions
	}
	var cases []tc
	for _, fc := range fidelityCases {
		// config_tiny_core.json ends its text stream in a connection
		// layer; the core head reads every region.
		cases = append(cases, tc{fc.name, func(t *testing.T) (*Model, *Inputs, []int) {
			m, fx := loadCase(t, fc, 0)
			in, labels := fx.inputs(t)
			return m, in, labels
		}, fc.config == "config_tiny.json", fc.head != HeadCore})
	}
	cases = append(cases, tc{"core_head_tiny", func(t *testing.T) (*Model, *Inputs, []int) {
		m := tinyModel(t, HeadCore)
		return m, FromBatch(randomBatch(m, 3, 7, 4, 1)), []int{0, 1, 1}
	}, true, false})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, in, labels := c.model(t)
			run := func(all bool) (out Output, grads map[string][]float32) {
				m.AllPositions = all
				o, _ := forwardBackward(t, m, in, labels, nil)
				out = *o
				out.Logits = append([]float32(nil), o.Logits...)
				grads = map[string][]float32{}
				for _, p := range m.Parameters() {
					grads[p.Name] = append([]float32(nil), p.Tensor.Grad...)
				}
				return out, grads
			}
			full, gFull := run(true)
			first, gFirst := run(false)
			want := func(cut bool, all int) int {
				if cut {
					return 1
				}
				return all
			}
			if full.TextRows != in.TextLen || full.ImageRows < in.Regions ||
				first.TextRows != want(c.text, full.TextRows) || first.ImageRows != want(c.imgs, full.ImageRows) {
				t.Fatalf("rows per item: text %d, image %d (AllPositions: %d, %d); cut text %v, image %v",
					first.TextRows, first.ImageRows, full.TextRows, full.ImageRows, c.text, c.imgs)
			}
			if d := maxAbsDiff(first.Logits, full.Logits); d > 1e-6 {
				t.Errorf("logits differ by %g: %v, all positions %v", d, first.Logits, full.Logits)
			}
			for name, g := range gFull {
				if d := maxAbsDiff(gFirst[name], g); d > 1e-5 {
					t.Errorf("%s: gradient differs by %g from the full computation", name, d)
				}
			}
			if !c.text {
				return
			}
			// A gradient for every position cannot follow a cut pass.
			m.AllPositions = false
			if _, err := m.Forward(in, false, nil); err != nil {
				t.Fatal(err)
			}
			err := m.BackwardStreams(make([]float32, in.Batch*in.TextLen*m.Config.HiddenSize), nil, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "AllPositions") {
				t.Errorf("BackwardStreams with every text position after a cut Forward: %v", err)
			}
		})
	}
}

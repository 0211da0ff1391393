package vilbert

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"mmc/ml/nn"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/tensor"
)

// fixture is one case file written by scripts/fixtures/vilbert.py.
type fixture struct {
	f32  map[string]*checkpoint.Array
	i64  map[string][]int64
	meta map[string]string
}

// readFixture reads a safetensors file holding F32 and I64 tensors (the
// project's reader is for weights and has no integer types).
func readFixture(t *testing.T, path string) *fixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	data := b[8+n:]
	fx := &fixture{f32: map[string]*checkpoint.Array{}, i64: map[string][]int64{}}
	for k, raw := range hdr {
		if k == "__metadata__" {
			if err := json.Unmarshal(raw, &fx.meta); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		seg := data[e.Offsets[0]:e.Offsets[1]]
		switch e.Dtype {
		case "F32":
			a := &checkpoint.Array{Shape: e.Shape, Data: make([]float32, len(seg)/4)}
			for i := range a.Data {
				a.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*i:]))
			}
			fx.f32[k] = a
		case "I64":
			v := make([]int64, len(seg)/8)
			for i := range v {
				v[i] = int64(binary.LittleEndian.Uint64(seg[8*i:]))
			}
			fx.i64[k] = v
		default:
			t.Fatalf("%s: %s has dtype %s", path, k, e.Dtype)
		}
	}
	return fx
}

func (fx *fixture) inputs(t *testing.T) (*Inputs, []int) {
	ids := fx.i64["in.input_ids"]
	b := len(fx.i64["in.labels"])
	feat := fx.f32["in.features"]
	r := feat.Shape[1]
	in := &Inputs{Batch: b, TextLen: len(ids) / b, Regions: r,
		TextMask: fx.f32["in.input_mask"].Data, Features: feat.Data, Locations: fx.f32["in.locations"].Data}
	for i, v := range ids {
		in.InputIDs = append(in.InputIDs, int32(v))
		in.SegmentIDs = append(in.SegmentIDs, int32(fx.i64["in.segment_ids"][i]))
	}
	// MMF's image mask: arange(R) < max_features.
	for _, n := range fx.i64["in.num_regions"] {
		for j := 0; j < r; j++ {
			in.ImageMask = append(in.ImageMask, b2f(int64(j) < n))
		}
	}
	var labels []int
	for _, y := range fx.i64["in.labels"] {
		labels = append(labels, int(y))
	}
	return in, labels
}

// maxAbsDiff is max |a−b|.
func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// relErr is ‖a−b‖ / ‖b‖, the relative error of a gradient tensor.
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

type fidelityCase struct {
	name, config string
	head         Head
	fusion       string
	convention   string
	weights      string
}

var fidelityCases = []fidelityCase{
	{"fb_mul_mmf", "config_tiny.json", HeadMMF, "mul", RegionsMMF, "fb_mmfhead"},
	{"fb_sum_mmf", "config_tiny.json", HeadMMF, "sum", RegionsMMF, "fb_mmfhead"},
	{"fb_mul_vmt", "config_tiny.json", HeadMMF, "mul", RegionsVMT, "fb_mmfhead"},
	{"fb_concat_mmf", "config_tiny.json", HeadConcat, "mul", RegionsMMF, "fb_concathead"},
	{"core_mmf", "config_tiny_core.json", HeadCore, "mul", RegionsMMF, "core"},
}

// loadCase builds the tiny model of a case with the fixture's weights.
func loadCase(t *testing.T, fc fidelityCase, freeze int) (*Model, *fixture) {
	t.Helper()
	cfg, err := LoadConfigJSON(filepath.Join("testdata", fc.config))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Head, cfg.FusionMethod, cfg.RegionConvention, cfg.FreezeBertLayers = fc.head, fc.fusion, fc.convention, freeze
	m, err := New(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	sd, _, err := checkpoint.LoadSafetensors(filepath.Join("testdata", fc.weights+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadStateDict(sd, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete() || rep.Kind != KindMMF {
		t.Fatalf("load: %v; missing %v unexpected %v initialised %v", rep, rep.Missing, rep.Unexpected, rep.Initialised)
	}
	fx := readFixture(t, filepath.Join("testdata", "case_"+fc.name+".safetensors"))
	for k, want := range map[string]string{"head": string(fc.head), "fusion": fc.fusion, "convention": fc.convention, "weights": fc.weights} {
		if fx.meta[k] != want {
			t.Fatalf("fixture %s was written with %s=%q, the test expects %q", fc.name, k, fx.meta[k], want)
		}
	}
	return m, fx
}

// TestFidelity compares logits, pooled outputs, the loss and gradients
// with the PyTorch reference for every architecture, head, fusion and
// region convention.
func TestFidelity(t *testing.T) {
	for _, fc := range fidelityCases {
		t.Run(fc.name, func(t *testing.T) {
			m, fx := loadCase(t, fc, 0)
			in, labels := fx.inputs(t)
			m.InputGrads = true
			out, err := m.Forward(in, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				key string
				got []float32
			}{{"logits", out.Logits}, {"pooled_text", out.PooledText}, {"pooled_image", out.PooledImage}} {
				if d := maxAbsDiff(c.got, fx.f32[c.key].Data); d > 1e-4 {
					t.Errorf("%s differs from torch by %.3g (got %v, want %v)", c.key, d, c.got, fx.f32[c.key].Data)
				}
			}
			loss, dl, err := CrossEntropy(out.Logits, labels, 2)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(loss - fx.f32["loss"].Data[0])); d > 1e-4 {
				t.Errorf("loss %v, torch %v", loss, fx.f32["loss"].Data[0])
			}
			if err := m.Backward(dl); err != nil {
				t.Fatal(err)
			}
			params := m.paramIndex()
			df, dloc := m.InputGradients()
			checked := 0
			for key, want := range fx.f32 {
				name, ok := strings.CutPrefix(key, "grad.")
				if !ok {
					continue
				}
				var got []float32
				switch name {
				case "features":
					got = df
				case "locations":
					got = dloc
				default:
					p := params[name]
					if p == nil {
						t.Fatalf("fixture gradient for unknown parameter %s", name)
					}
					got = p.Grad
				}
				if len(got) != len(want.Data) {
					t.Fatalf("gradient %s: %d values, torch %d", name, len(got), len(want.Data))
				}
				if e := relErr(got, want.Data); e > 1e-4 {
					t.Errorf("gradient %s: relative error %.3g", name, e)
				}
				checked++
			}
			if checked < 10 {
				t.Fatalf("only %d gradients checked", checked)
			}
		})
	}
}

// TestFreezeBertLayers checks that frozen modules get no gradient while
// the others still match torch (freezing does not change them).
func TestFreezeBertLayers(t *testing.T) {
	m, fx := loadCase(t, fidelityCases[0], 2)
	in, labels := fx.inputs(t)
	out, err := m.Forward(in, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, dl, _ := CrossEntropy(out.Logits, labels, 2)
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Parameters() {
		frozen := strings.HasPrefix(p.Name, "bert.embeddings.") || strings.HasPrefix(p.Name, "bert.encoder.layer.0.") ||
			strings.HasPrefix(p.Name, "bert.encoder.layer.1.")
		if frozen && (p.Tensor.Grad != nil || p.Tensor.RequiresGrad()) {
			t.Errorf("%s is frozen but has a gradient", p.Name)
		}
		if !frozen && !p.Tensor.RequiresGrad() {
			t.Errorf("%s should be trainable", p.Name)
		}
		if want, ok := fx.f32["grad."+p.Name]; ok && !frozen {
			if e := relErr(p.Tensor.Grad, want.Data); e > 1e-4 {
				t.Errorf("gradient %s: relative error %.3g with frozen layers", p.Name, e)
			}
		}
	}
}

// TestTrainingDropout checks that dropout is active and reproducible in
// training and that a training step's gradients are finite.
func TestTrainingDropout(t *testing.T) {
	fc := fidelityCases[0]
	m, fx := loadCase(t, fc, 0)
	in, labels := fx.inputs(t)
	eval, err := m.Forward(in, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := append([]float32(nil), eval.Logits...)
	run := func(seed uint64) []float32 {
		out, err := m.Forward(in, true, newRNG(seed))
		if err != nil {
			t.Fatal(err)
		}
		logits := append([]float32(nil), out.Logits...)
		_, dl, _ := CrossEntropy(out.Logits, labels, 2)
		m.ZeroGrad()
		if err := m.Backward(dl); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Parameters() {
			for _, g := range p.Tensor.Grad {
				if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
					t.Fatalf("%s: non-finite gradient", p.Name)
				}
			}
		}
		return logits
	}
	a, b, c := run(1), run(1), run(2)
	if maxAbsDiff(a, b) != 0 {
		t.Errorf("same seed, different logits: %v vs %v", a, b)
	}
	if maxAbsDiff(a, c) == 0 || maxAbsDiff(a, ref) == 0 {
		t.Errorf("dropout had no effect: %v %v %v", a, c, ref)
	}
	if err := m.Backward(make([]float32, 6)); err == nil {
		t.Error("a second Backward after one Forward should fail")
	}
}

// forwardBackward runs a forward pass (training mode with dropout from
// rng, eval mode when rng is nil) and the backward pass of the
// cross-entropy on labels into freshly zeroed gradients, and returns the
// output and the loss.
func forwardBackward(t *testing.T, m *Model, in *Inputs, labels []int, rng *tensor.RNG) (*Output, float32) {
	t.Helper()
	out, err := m.Forward(in, rng != nil, rng)
	if err != nil {
		t.Fatal(err)
	}
	l, dl, err := CrossEntropy(out.Logits, labels, m.Config.NumLabels)
	if err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	return out, l
}

func b2f(v bool) float32 {
	if v {
		return 1
	}
	return 0
}

func newRNG(seed uint64) *tensor.RNG { return tensor.NewRNG(seed) }

// TestTrainingGradients checks the backward pass with dropout active
// against central finite differences: the masks depend only on the seed,
// so the loss is a smooth function of the weights for a fixed seed.
func TestTrainingGradients(t *testing.T) {
	for _, fc := range []fidelityCase{fidelityCases[2], fidelityCases[3], fidelityCases[4]} {
		t.Run(fc.name, func(t *testing.T) {
			m, fx := loadCase(t, fc, 0)
			in, labels := fx.inputs(t)
			loss := func() float64 {
				_, l := forwardBackward(t, m, in, labels, newRNG(11))
				return float64(l)
			}
			loss()
			params := m.paramIndex()
			for _, name := range []string{
				"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight",
				"bert.encoder.layer.1.intermediate.dense.weight", "bert.encoder.v_layer.0.attention.self.value.weight",
				"bert.encoder.c_layer.0.biattention.key1.weight", "bert.encoder.c_layer.1.biattention.query2.weight",
				"bert.encoder.c_layer.1.t_intermediate.dense.weight", "bert.encoder.c_layer.0.v_output.dense.weight",
				"bert.v_embeddings.image_embeddings.weight", "classifier.0.weight", "classifier.0.dense.weight",
				"bert.encoder.layer.2.attention.output.dense.weight", "bert.encoder.v_layer.1.attention.output.dense.weight",
				"bert.encoder.c_layer.0.biOutput.dense1.weight", "bert.encoder.c_layer.1.biOutput.dense2.weight",
			} {
				p := params[name]
				if p == nil {
					continue
				}
				loss()
				grad := append([]float32(nil), p.Grad...)
				// The entry with the largest gradient, where the finite
				// difference is least swamped by float32 rounding.
				best := 0
				for i, g := range grad {
					if math.Abs(float64(g)) > math.Abs(float64(grad[best])) {
						best = i
					}
				}
				// Small enough to stay clear of the ReLU kinks of the
				// poolers and heads (1e-2 crossed one in the concat case
				// once the last layers drew fewer dropout masks), large
				// enough for float32's rounding of the loss.
				const eps = 1e-3
				orig := p.Data[best]
				p.Data[best] = orig + eps
				up := loss()
				p.Data[best] = orig - eps
				down := loss()
				p.Data[best] = orig
				num := (up - down) / (2 * eps)
				if d := math.Abs(num - float64(grad[best])); d > 2e-2*math.Abs(num)+2e-4 {
					t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", name, best, grad[best], num)
				}
			}
		})
	}
}

// TestFrozenLayersSkipped checks that a frozen text layer with nothing
// trainable below it does no backward work: its cached inputs are
// poisoned after the forward pass, so any use would panic.
func TestFrozenLayersSkipped(t *testing.T) {
	m, fx := loadCase(t, fidelityCases[0], 1)
	in, labels := fx.inputs(t)
	out, err := m.Forward(in, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ws.text[0] = nn.LayerState{} // empty states: any use would panic
	m.ws.emb = embState{}
	_, dl, _ := CrossEntropy(out.Logits, labels, 2)
	if err := m.Backward(dl); err != nil {
		t.Fatal(err)
	}
	if g := m.Bert.Encoder.Layer[1].FFN.Output.Weight.Grad; g == nil {
		t.Error("layer 1 is trainable but got no gradient")
	}
}

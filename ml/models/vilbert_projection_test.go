package models

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"mmc/ml/batch"
	"mmc/ml/checkpoint"
	"mmc/ml/tensor"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

func tinyViLBERT(featSize int) vilbert.Config {
	c := vilbert.CoreConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 8, 1, 2, 16
	c.VHiddenSize, c.VNumHiddenLayers, c.VNumAttentionHeads, c.VIntermediateSize = 8, 1, 2, 16
	c.BiHiddenSize, c.BiNumAttentionHeads, c.BiIntermediateSize = 8, 2, 16
	c.VBiAttentionID, c.TBiAttentionID = []int{0}, []int{0}
	c.VFeatureSize, c.VocabSize, c.MaxPositionEmbeddings = featSize, 50, 8
	c.HiddenDropout, c.AttentionDropout, c.VHiddenDropout, c.VAttentionDropout = 0, 0, 0, 0
	c.ClassifierDropout = 0
	return c
}

// tinyBatch is two examples of 3 tokens and 2 regions of width d.
func tinyBatch(d int) *batch.Batch {
	b := &batch.Batch{Size: 2, SeqLen: 3, Regions: 2, FeatDim: d,
		InputIDs:   []int32{2, 7, 3, 2, 9, 3},
		SegmentIDs: make([]int32, 6),
		TextMask:   []float32{1, 1, 1, 1, 1, 1},
		Features:   make([]float32, 2*2*d),
		Locations:  []float32{0, 0, 1, 1, 1, 0, 0, .5, .5, .25, 0, 0, 1, 1, 1, .5, .5, 1, 1, .25},
		ImageMask:  []float32{1, 1, 1, 1},
	}
	for i := range b.Features {
		b.Features[i] = float32(math.Sin(float64(i)*0.7)) * 0.5
	}
	return b
}

// TestFeatureProjectionModes: features of v_feature_size are never
// projected; other widths get a trainable (default) or frozen
// projection, and "none" refuses them.
func TestFeatureProjectionModes(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		featDim   int
		projected bool
		trainable bool
		err       string
	}{
		{"", 4, false, false, ""},
		{"", 6, true, true, ""},
		{ProjectionTrainable, 6, true, true, ""},
		{ProjectionFixed, 6, true, false, ""},
		{ProjectionNone, 4, false, false, ""},
		{ProjectionNone, 6, false, false, "feature_projection: none"},
		{"learned", 6, false, false, `feature_projection "learned"`},
	} {
		m, err := ViLBERTParams{Config: tinyViLBERT(4), FeatureProjection: tc.mode}.New(tc.featDim, 1)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q, %d-wide: %v; want %q", tc.mode, tc.featDim, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q, %d-wide: %v", tc.mode, tc.featDim, err)
		}
		p, ok := m.(*ProjectedViLBERT)
		if ok != tc.projected {
			t.Errorf("%q, %d-wide: projected %v, want %v", tc.mode, tc.featDim, ok, tc.projected)
			continue
		}
		if ok && p.Weight.RequiresGrad() != tc.trainable {
			t.Errorf("%q: projection trainable %v, want %v", tc.mode, p.Weight.RequiresGrad(), tc.trainable)
		}
		if _, err := m.Forward(tinyBatch(tc.featDim), false); err != nil {
			t.Errorf("%q, %d-wide: forward: %v", tc.mode, tc.featDim, err)
		}
	}
}

// TestFeatureProjectionSaveLoad: a checkpoint of a projected model
// (weights + sidecar config) rebuilds the same model, projection
// included, and the same logits; a checkpoint without the projection's
// tensors is an error naming them.
func TestFeatureProjectionSaveLoad(t *testing.T) {
	for _, mode := range []string{ProjectionTrainable, ProjectionFixed} {
		p := Params{Kind: KindViLBERT, ViLBERT: ViLBERTParams{Config: tinyViLBERT(4), FeatureProjection: mode, ProjectionSeed: 7}, FeatDim: 6}
		m, err := Build(p, 3)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Forward(tinyBatch(6), false)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]float32(nil), want...)
		cfg, _ := json.Marshal(p)
		sd := train.Snapshot(m)
		if _, ok := sd[ProjectionWeightKey]; !ok {
			t.Fatalf("%s: snapshot lacks %s", mode, ProjectionWeightKey)
		}
		got, gp, rep, err := Load(Trained{Weights: sd, Sidecar: checkpoint.Sidecar{Model: KindViLBERT, Config: cfg}}, true)
		if err != nil {
			t.Fatalf("%s: load: %v", mode, err)
		}
		if gp.FeatDim != 6 || gp.ViLBERT.FeatureProjection != mode || len(rep.Extra) != 0 {
			t.Errorf("%s: loaded params %+v, report %+v", mode, gp.ViLBERT.FeatureProjection, rep)
		}
		pm, ok := got.(*ProjectedViLBERT)
		if !ok {
			t.Fatalf("%s: loaded a %T", mode, got)
		}
		if pm.Weight.RequiresGrad() != (mode == ProjectionTrainable) {
			t.Errorf("%s: loaded projection trainable %v", mode, pm.Weight.RequiresGrad())
		}
		logits, err := got.Forward(tinyBatch(6), false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if logits[i] != want[i] {
				t.Fatalf("%s: logits after reload %v, want %v", mode, logits, want)
			}
		}
		delete(sd, ProjectionBiasKey)
		if _, _, _, err := Load(Trained{Weights: sd, Sidecar: checkpoint.Sidecar{Model: KindViLBERT, Config: cfg}}, false); err == nil || !strings.Contains(err.Error(), ProjectionBiasKey) {
			t.Errorf("%s: checkpoint without the projection bias: %v", mode, err)
		}
	}
}

// TestFeatureProjectionGradient checks the projection's weight and bias
// gradients against central differences of a scalar of the logits, in
// both backward paths (Backward, and BackwardApply's in-place update).
func TestFeatureProjectionGradient(t *testing.T) {
	m, err := ViLBERTParams{Config: tinyViLBERT(4)}.New(6, 5)
	if err != nil {
		t.Fatal(err)
	}
	p := m.(*ProjectedViLBERT)
	b := tinyBatch(6)
	dl := []float32{1, -0.5, 0.25, 0.75}
	loss := func() float64 {
		y, err := p.Forward(b, false)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range y {
			s += float64(v * dl[i])
		}
		return s
	}
	loss()
	if err := p.Backward(dl); err != nil {
		t.Fatal(err)
	}
	gw := append([]float32(nil), p.Weight.Grad...)
	gb := append([]float32(nil), p.Bias.Grad...)
	const h = 1e-2
	for _, c := range []struct {
		name string
		data []float32
		grad []float32
		idx  []int
	}{{"weight", p.Weight.Data, gw, []int{0, 5, 13, 23}}, {"bias", p.Bias.Data, gb, []int{0, 3}}} {
		for _, i := range c.idx {
			v := c.data[i]
			c.data[i] = v + h
			up := loss()
			c.data[i] = v - h
			down := loss()
			c.data[i] = v
			num := (up - down) / (2 * h)
			if d := math.Abs(num - float64(c.grad[i])); d > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("%s[%d]: analytic %g, numeric %g", c.name, i, c.grad[i], num)
			}
		}
	}
	// BackwardApply hands the same gradients to the update function.
	loss()
	seen := map[*tensor.Tensor][]float32{}
	err = p.BackwardApply(dl, func(x *tensor.Tensor) error {
		seen[x] = append([]float32(nil), x.Grad...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t    *tensor.Tensor
		want []float32
	}{{p.Weight, gw}, {p.Bias, gb}} {
		got := seen[c.t]
		if len(got) != len(c.want) {
			t.Fatalf("BackwardApply: projection gradient of %d values, want %d", len(got), len(c.want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-5 {
				t.Fatalf("BackwardApply gradient [%d] %g, Backward %g", i, got[i], c.want[i])
			}
		}
	}
}

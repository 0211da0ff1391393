package vilbert

import (
	"math"
	"slices"
	"strings"
	"testing"

	"mmc/ml/batch"
	"mmc/ml/tensor"
)

// randomBatch is a collated batch of n items for the tiny config: t
// tokens (the last item padded after 5) and r regions (the last region
// of item 0 padding).
func randomBatch(m *Model, n, t, r int, seed uint64) *batch.Batch {
	c := &m.Config
	rng := tensor.NewRNG(seed)
	d := c.VFeatureSize
	b := &batch.Batch{Size: n, SeqLen: t, Regions: r, FeatDim: d, InputIDs: make([]int32, n*t), SegmentIDs: make([]int32, n*t),
		TextMask: make([]float32, n*t), Features: make([]float32, n*r*d), Locations: make([]float32, n*r*5), ImageMask: make([]float32, n*r)}
	for i := 0; i < n; i++ {
		real := t
		if i == n-1 {
			real = 5
		}
		for j := 0; j < real; j++ {
			id := int32(5 + rng.Uint64()%uint64(c.VocabSize-5))
			switch j {
			case 0:
				id = 1
			case real - 1:
				id = 2
			}
			b.InputIDs[i*t+j], b.TextMask[i*t+j] = id, 1
		}
	}
	for i := range b.Features {
		b.Features[i] = rng.NormFloat32()
	}
	for i := range b.Locations {
		b.Locations[i] = rng.Float32()
	}
	for i := range b.ImageMask {
		b.ImageMask[i] = 1
	}
	b.ImageMask[r-1] = 0
	return b
}

func testMaskOptions(m *Model) MaskOptions {
	return MaskOptions{TokenProb: 0.5, RegionProb: 0.5, NegativeProb: 0.5, ClsID: 1, SepID: 2, PadID: 0, MaskID: 3, VocabSize: m.Config.VocabSize}
}

// BackwardStreams fed with the gradients the MMF head puts on the pooled
// outputs must give exactly the parameter gradients of Backward.
func TestBackwardStreamsMatchesBackward(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	in := FromBatch(randomBatch(m, 3, 7, 4, 1))
	run := func(viaStreams bool) map[string][]float32 {
		m.ZeroGrad()
		if _, err := m.Forward(in, false, nil); err != nil {
			t.Fatal(err)
		}
		_, dl, err := CrossEntropy(m.ws.out.Logits, []int{0, 1, 1}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !viaStreams {
			if err := m.Backward(dl); err != nil {
				t.Fatal(err)
			}
		} else {
			s := &m.ws.s
			s.dtxt, s.dimg = make([]float32, len(s.txt)), make([]float32, len(s.img))
			m.Classifier.backward(&m.ws.head, s, dl, nil)
			dpt, dpv := slices.Clone(s.dpt), slices.Clone(s.dpv)
			for _, p := range walk(m.Classifier, "") {
				clear(p.Tensor.Grad) // only the encoder's gradients are compared
			}
			if err := m.BackwardStreams(nil, nil, dpt, dpv); err != nil {
				t.Fatal(err)
			}
		}
		g := map[string][]float32{}
		for _, p := range m.Parameters() {
			if strings.HasPrefix(p.Name, "bert.") {
				g[p.Name] = slices.Clone(p.Tensor.Grad)
			}
		}
		return g
	}
	want, got := run(false), run(true)
	for k, w := range want {
		if d := maxAbsDiff(got[k], w); d != 0 {
			t.Errorf("%s: BackwardStreams differs from Backward by %g", k, d)
		}
	}
	if err := m.BackwardStreams(nil, nil, nil, nil); err == nil {
		t.Error("BackwardStreams without a Forward: no error")
	}
	if _, err := m.Forward(in, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.BackwardStreams(make([]float32, 3), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "dText") {
		t.Errorf("short dText: error %v", err)
	}
}

// The gradients of the summed pretraining loss (three heads, then
// BackwardStreams through the encoder) agree with central differences.
func TestPretrainGradientsFiniteDifference(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	p := NewPretrainer(m, 7)
	pb, err := MaskBatch(randomBatch(m, 3, 7, 4, 2), testMaskOptions(m), tensor.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range p.Parameters() {
		q.Tensor.Grad = nil
	}
	loss, err := p.Step(pb, false, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loss.MaskedTokens == 0 || loss.MaskedRegions == 0 || loss.MLM <= 0 || loss.Region <= 0 || loss.Alignment <= 0 {
		t.Fatalf("degenerate batch: %+v", loss)
	}
	f := func() float64 {
		l, err := p.Step(pb, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return float64(l.Total)
	}
	checked := 0
	for _, q := range p.Parameters() {
		for _, want := range []string{"cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.weight",
			"cls.bi_seq_relationship.weight", "cls.imagePredictions.decoder.weight", "cls.imagePredictions.transform.dense.weight",
			"bert.embeddings.word_embeddings.weight", "bert.t_pooler.dense.weight", "bert.v_pooler.dense.weight",
			"bert.v_embeddings.image_embeddings.weight", "bert.encoder.c_layer.0.biOutput.dense1.weight", "bert.encoder.layer.0.attention.self.value.weight"} {
			if q.Name != want {
				continue
			}
			checked++
			g := q.Tensor.Grad
			best := 0
			for i, v := range g {
				if math.Abs(float64(v)) > math.Abs(float64(g[best])) {
					best = i
				}
			}
			if math.Abs(float64(g[best])) < 1e-5 {
				t.Errorf("%s: no gradient reaches it", q.Name)
				continue
			}
			const eps = 5e-3
			orig := q.Tensor.Data[best]
			q.Tensor.Data[best] = orig + eps
			up := f()
			q.Tensor.Data[best] = orig - eps
			down := f()
			q.Tensor.Data[best] = orig
			num := (up - down) / (2 * eps)
			if ana := float64(g[best]); math.Abs(num-ana) > 0.03*math.Abs(ana)+2e-3 {
				t.Errorf("%s[%d]: analytic %g, finite difference %g", q.Name, best, ana, num)
			}
		}
	}
	if checked != 12 {
		t.Errorf("checked %d parameters, want 12 (a key name changed?)", checked)
	}
}

func TestMaskBatch(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	b := randomBatch(m, 6, 9, 5, 3)
	orig := slices.Clone(b.InputIDs)
	o := testMaskOptions(m)
	pb, err := MaskBatch(b, o, tensor.NewRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.InputIDs, orig) {
		t.Error("MaskBatch modified the batch")
	}
	masked, negatives := 0, 0
	for i, l := range pb.TokenLabels {
		id := orig[i]
		switch {
		case l == -1:
			if pb.Inputs.InputIDs[i] != id {
				t.Errorf("token %d changed without a label", i)
			}
		case l != id || id == o.ClsID || id == o.SepID || id == o.PadID:
			t.Errorf("token %d: label %d for id %d", i, l, id)
		default:
			masked++
		}
	}
	d := b.FeatDim
	for i, l := range pb.RegionLabels {
		zero := !slices.ContainsFunc(pb.Inputs.Features[i*d:(i+1)*d], func(v float32) bool { return v != 0 })
		if (l == 1) != zero || (l == 1 && pb.Inputs.ImageMask[i] == 0) {
			t.Errorf("region %d: label %d, zeroed %t, real %g", i, l, zero, pb.Inputs.ImageMask[i])
		}
	}
	for i, a := range pb.Aligned {
		r := b.Regions
		same := slices.Equal(pb.RegionTargets[i*r*d:(i+1)*r*d], b.Features[i*r*d:(i+1)*r*d])
		if (a == 0) != same {
			t.Errorf("item %d: aligned label %d but own regions %t", i, a, same)
		}
		negatives += int(a)
	}
	if masked == 0 || negatives == 0 || negatives == len(pb.Aligned) {
		t.Errorf("%d masked tokens and %d of %d negatives: the probabilities are not applied", masked, negatives, len(pb.Aligned))
	}
	again, err := MaskBatch(b, o, tensor.NewRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.TokenLabels, pb.TokenLabels) || !slices.Equal(again.Inputs.Features, pb.Inputs.Features) {
		t.Error("MaskBatch is not reproducible from its seed")
	}
	if _, err := MaskBatch(b, MaskOptions{VocabSize: 10, MaskID: 10}, tensor.NewRNG(1)); err == nil {
		t.Error("[MASK] outside the vocabulary: no error")
	}
}

// A pretraining checkpoint loads as pretrained weights: every encoder key
// loaded, the classifier initialised, the cls.* heads ignored.
func TestPretrainStateDictLoadsAsPretrained(t *testing.T) {
	src := tinyModel(t, HeadMMF)
	p := NewPretrainer(src, 1)
	sd := p.StateDict()
	if _, ok := sd["model.cls.predictions.decoder.weight"]; !ok {
		t.Fatal("no tied decoder key")
	}
	for k := range sd {
		if strings.Contains(k, "classifier") {
			t.Errorf("pretraining checkpoint has classifier key %s", k)
		}
	}
	dst := tinyModel(t, HeadCore)
	rep, err := dst.LoadStateDict(sd, LoadOptions{SkipClassifier: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindPretrained || rep.Convention != RegionsMMF || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
		t.Fatalf("report %s (kind %s, convention %s)", rep, rep.Kind, rep.Convention)
	}
	for _, k := range rep.Initialised {
		if !strings.HasPrefix(k, "classifier.") {
			t.Errorf("initialised %s, want only the classifier", k)
		}
	}
	if len(rep.Initialised) == 0 {
		t.Error("classifier not reported as initialised")
	}
}

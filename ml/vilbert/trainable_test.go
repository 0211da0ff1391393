package vilbert

import (
	"strings"
	"testing"

	"mmc/ml/batch"
	"mmc/ml/tensor"
)

func TestTrainableMatchesTorch(t *testing.T) {
	m, fx := loadCase(t, fidelityCases[0], 0)
	in, labels := fx.inputs(t)
	b := &batch.Batch{Size: in.Batch, SeqLen: in.TextLen, Regions: in.Regions, FeatDim: m.Config.VFeatureSize,
		Labels: labels, InputIDs: in.InputIDs, SegmentIDs: in.SegmentIDs, TextMask: in.TextMask,
		Features: in.Features, Locations: in.Locations, ImageMask: in.ImageMask, Step: -1}
	tr := Trainable{M: m}
	logits, err := tr.Forward(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(logits, fx.f32["logits"].Data); d > 1e-4 {
		t.Errorf("logits differ from torch by %g", d)
	}
	if len(tr.Params()) != len(m.Parameters()) {
		t.Error("Params and Parameters disagree")
	}
	_, dl, err := CrossEntropy(logits, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Every parameter is updated except biOutput.q_dense1/2, which MMF's
	// forward never uses either (they get no gradient in torch).
	applied := map[*tensor.Tensor]bool{}
	if err := tr.BackwardApply(dl, func(p *tensor.Tensor) error { applied[p] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Parameters() {
		if unused := strings.Contains(p.Name, ".q_dense"); applied[p.Tensor] == unused {
			t.Errorf("%s: updated %t", p.Name, applied[p.Tensor])
		}
	}
	b.FeatDim++
	if _, err := tr.Forward(b, false); err == nil {
		t.Error("a batch of the wrong feature width should be refused")
	}
}

func TestInputsChecked(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	good := func() *Inputs {
		return &Inputs{Batch: 1, TextLen: 2, Regions: 2, InputIDs: []int32{1, 2},
			Features: make([]float32, 2*m.Config.VFeatureSize), Locations: make([]float32, 10)}
	}
	if _, err := m.Forward(good(), false, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Inputs)
		want string
	}{
		{func(in *Inputs) { in.InputIDs[1] = 40 }, "InputIDs[1] = 40"},
		{func(in *Inputs) { in.SegmentIDs = []int32{0, 2} }, "SegmentIDs[1] = 2"},
		{func(in *Inputs) { in.Features = in.Features[1:] }, "Features has"},
		{func(in *Inputs) { in.ImageMask = []float32{0, 0} }, "no real region"},
		{func(in *Inputs) { in.TextLen, in.InputIDs = 21, make([]int32, 21) }, "max_position_embeddings"},
	} {
		in := good()
		c.edit(in)
		if _, err := m.Forward(in, false, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Forward error %v, want %q", err, c.want)
		}
	}
	if _, err := m.Forward(good(), true, nil); err == nil {
		t.Error("training without a generator should fail")
	}
}

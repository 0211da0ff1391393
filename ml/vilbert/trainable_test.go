package vilbert

import (
	"testing"

	"mmc/ml/batch"
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
	b.FeatDim++
	if _, err := tr.Forward(b, false); err == nil {
		t.Error("a batch of the wrong feature width should be refused")
	}
}

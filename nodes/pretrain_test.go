package nodes

import (
	"strings"
	"testing"

	"mmc/ml/models"
)

func TestPretrainParamsValidate(t *testing.T) {
	ok := PretrainParams{Split: "train", Model: models.Params{Kind: models.KindViLBERT}, Data: DataParams{MaxSeqLength: 16, MaxFeatures: 8},
		Mask: MaskParams{TokenProb: 0.15, RegionProb: 0.15, NegativeProb: 0.5}, Steps: 10, BatchSize: 4, LR: 1e-3}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid parameters: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*PretrainParams)
		want string
	}{
		{"kind", func(p *PretrainParams) { p.Model.Kind = models.KindTextBERT }, "model.kind"},
		{"steps", func(p *PretrainParams) { p.Steps = 0 }, "steps 0"},
		{"batch", func(p *PretrainParams) { p.BatchSize = 1 }, "batch_size 1"},
		{"lr", func(p *PretrainParams) { p.LR = 0 }, "lr 0"},
		{"data", func(p *PretrainParams) { p.Data.MaxFeatures = 0 }, "max_features 0"},
		{"vmt", func(p *PretrainParams) { p.Model.ViLBERT.RegionConvention = "vmt" }, "region_convention"},
		{"prob", func(p *PretrainParams) { p.Mask.RegionProb = 1.5 }, "mask.region_prob"},
		{"resume", func(p *PretrainParams) { p.Resume = "sometimes" }, `resume "sometimes"`},
	} {
		p := ok
		c.edit(&p)
		if err := p.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// TestPretrainLoop: the pretraining loop's settings on ml/train: enough
// epochs for the steps, stopped at steps, short batches dropped.
func TestPretrainLoop(t *testing.T) {
	p := PretrainParams{Steps: 10, BatchSize: 16, LR: 1e-3, Seed: 4}
	c := p.loop(40) // 2 full batches an epoch
	if c.Epochs != 5 || c.MaxSteps != 10 || !c.DropLast || c.StepsPerEpoch(40) != 2 {
		t.Errorf("loop %+v: want 5 epochs of 2 steps, max_steps 10, drop_last", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if c := p.loop(5); c.BatchSize != 5 || c.Epochs != 10 {
		t.Errorf("5 memes: batch %d, %d epochs; want one batch of 5 an epoch", c.BatchSize, c.Epochs)
	}
}

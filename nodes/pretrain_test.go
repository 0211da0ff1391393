package nodes

import (
	"mmc/ml/models"
	"strings"
	"testing"
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
	} {
		p := ok
		c.edit(&p)
		if err := p.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

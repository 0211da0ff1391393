package train

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

func TestLossAgainstTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/losses.json")
	if err != nil {
		t.Fatalf("read fixture (regenerate with scripts/fixtures/metrics.py): %v", err)
	}
	var cases []struct {
		Config LossConfig `json:"config"`
		Labels []int      `json:"labels"`
		Logits []float32  `json:"logits"`
		Loss   float64    `json:"loss"`
		Grad   []float64  `json:"grad"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("decode testdata/losses.json: %v", err)
	}
	if len(cases) == 0 {
		t.Fatal("no loss cases in fixture")
	}
	for i, c := range cases {
		if err := c.Config.Validate(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		loss, grad, err := c.Config.Compute(c.Logits, c.Labels)
		if err != nil {
			t.Fatalf("case %d (%+v): %v", i, c.Config, err)
		}
		if math.Abs(loss-c.Loss) > 1e-9*math.Max(1, math.Abs(c.Loss)) {
			t.Errorf("case %d (%+v, n=%d): loss %v, torch %v", i, c.Config, len(c.Labels), loss, c.Loss)
		}
		for j := range grad {
			if math.Abs(float64(grad[j])-c.Grad[j]) > 1e-6*math.Max(1e-3, math.Abs(c.Grad[j])) {
				t.Errorf("case %d (%+v): grad[%d] %v, torch %v", i, c.Config, j, grad[j], c.Grad[j])
				break
			}
		}
	}
}

func TestLossConfigValidate(t *testing.T) {
	tests := []struct {
		cfg LossConfig
		ok  bool
	}{
		{LossConfig{Kind: "ce"}, true},
		{LossConfig{}, true},
		{LossConfig{Kind: "ce", LabelSmoothing: 0.1}, true},
		{LossConfig{Kind: "focal", FocalAlpha: 0.35, FocalGamma: 2}, true},
		{LossConfig{Kind: "focal", FocalAlpha: 1.5, FocalGamma: 2}, false},
		{LossConfig{Kind: "focal", FocalAlpha: 0.3, FocalGamma: -1}, false},
		{LossConfig{Kind: "focal", FocalAlpha: 0.3, LabelSmoothing: 0.1}, false},
		{LossConfig{Kind: "ce", LabelSmoothing: 1}, false},
		{LossConfig{Kind: "hinge"}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
	if _, _, err := (LossConfig{Kind: "ce"}).Compute([]float32{0, 1}, []int{2}); err == nil {
		t.Error("Compute accepted label 2")
	}
}

package models

import (
	"fmt"

	"mmc/ml/checkpoint"
	"mmc/ml/train"
)

// PooledLinearParams are the "pooled_linear" kind's parameters.
type PooledLinearParams struct {
	UseText     bool `yaml:"use_text" json:"use_text"`
	UseImage    bool `yaml:"use_image" json:"use_image"`
	TextBuckets int  `yaml:"text_buckets" json:"text_buckets"`
}

// Info describes the kind: the modalities switched on.
func (p PooledLinearParams) Info() Info {
	return Info{
		Doc:    "logistic regression on pooled region features and a hashed bag of words",
		Inputs: Inputs{Text: p.UseText, Regions: p.UseImage},
	}
}

// New builds PooledLinear behind the autograd adapter.
func (p PooledLinearParams) New(featDim int, seed uint64) (train.Model, error) {
	m, err := NewPooledLinear(p.UseText, p.UseImage, p.TextBuckets, featDim, seed)
	if err != nil {
		return nil, err
	}
	return train.Autograd(m), nil
}

// LoadPretrained is not supported: the model is trained from scratch.
func (PooledLinearParams) LoadPretrained(train.Model, checkpoint.StateDict) (string, error) {
	return "", fmt.Errorf("pooled_linear has no pretrained weights; leave init_weights empty")
}

// LoadTrained loads a pooled_linear checkpoint by parameter name.
func (PooledLinearParams) LoadTrained(m train.Model, sd checkpoint.StateDict) (LoadReport, error) {
	return loadParams(m.Params(), sd)
}

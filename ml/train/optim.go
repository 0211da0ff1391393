package train

import (
	"fmt"

	"mmc/ml/optim"
)

// OptimConfig is the optimiser and schedule (parameters.yml →
// train.optimizer). Defaults follow MMF's hateful-memes ViLBERT: AdamW,
// lr 1e-5, ε 1e-8, betas (0.9, 0.999), weight decay 0.01 except biases
// and LayerNorm, linear warmup over 2,000 steps then linear decay to 0
// at the last step.
type OptimConfig struct {
	LR          float64 `yaml:"lr" json:"lr"`
	Eps         float64 `yaml:"eps" json:"eps"`
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	WarmupSteps int     `yaml:"warmup_steps" json:"warmup_steps"`
	// Schedule is "linear" (warmup then linear decay), "cosine" (warmup
	// then half cosine) or "constant" (warmup then flat).
	Schedule string `yaml:"schedule" json:"schedule"`
}

// Validate reports the first invalid setting.
func (c OptimConfig) Validate() error {
	switch {
	case !(c.LR > 0):
		return fmt.Errorf("train.optimizer: lr %v, want > 0", c.LR)
	case c.Eps < 0 || c.WeightDecay < 0:
		return fmt.Errorf("train.optimizer: eps %v and weight_decay %v must not be negative", c.Eps, c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("train.optimizer: betas (%v, %v) outside [0, 1)", c.Beta1, c.Beta2)
	case c.WarmupSteps < 0:
		return fmt.Errorf("train.optimizer: warmup_steps %d is negative", c.WarmupSteps)
	}
	switch c.Schedule {
	case "", "linear", "cosine", "constant":
		return nil
	}
	return fmt.Errorf("train.optimizer: unknown schedule %q (want linear, cosine or constant)", c.Schedule)
}

// StepsPerEpoch is the number of batches (optimiser steps) in an epoch
// over n examples; the last batch may be smaller, unless DropLast
// leaves it out.
func (c Config) StepsPerEpoch(n int) int {
	if c.DropLast {
		return n / c.BatchSize
	}
	return (n + c.BatchSize - 1) / c.BatchSize
}

// NewOptimizer builds AdamW over the model's trainable parameters with
// the weight-decay split of MMF (none on biases and LayerNorm) and the
// configured schedule over all epochs of n training examples (at most
// MaxSteps steps). Frozen
// parameters are left out.
func NewOptimizer(m interface{ Params() []Param }, cfg Config, n int) (*optim.AdamW, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	oc := cfg.Optimizer
	total := cfg.StepsPerEpoch(n) * cfg.Epochs
	if cfg.MaxSteps > 0 {
		total = min(total, cfg.MaxSteps)
	}
	var sched optim.Schedule
	switch oc.Schedule {
	case "", "linear":
		sched = optim.LinearWarmupDecay(oc.WarmupSteps, total)
	case "cosine":
		sched = optim.WarmupCosine(oc.WarmupSteps, total, 0.5)
	case "constant":
		sched = optim.ConstantWarmup(oc.WarmupSteps)
	}
	return optim.NewAdamW(optim.SplitDecay(m.Params(), oc.WeightDecay), optim.AdamWConfig{
		LR: oc.LR, Beta1: oc.Beta1, Beta2: oc.Beta2, Eps: oc.Eps, Schedule: sched,
	}), nil
}

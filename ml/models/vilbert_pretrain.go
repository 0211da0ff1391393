package models

import (
	"fmt"

	"mmc/ml/batch"
	"mmc/ml/tensor"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// ViLBERTPretraining is ViLBERT with its pretraining heads
// (vilbert.Pretrainer: masked tokens, masked region features,
// image–text alignment) as a train.ObjectiveModel, so pretraining runs
// on ml/train's loop like every other training. Masks and dropout are
// drawn from a generator seeded with the batch's seed, so a resumed run
// repeats them.
type ViLBERTPretraining struct {
	P    *vilbert.Pretrainer
	Mask vilbert.MaskOptions
	// Last is the losses of the last Objective call, for progress and
	// per-step history.
	Last vilbert.PretrainLoss
}

// NewViLBERTPretraining builds a fresh ViLBERT from c (initialised from
// seed) with pretraining heads (from seed+1).
func NewViLBERTPretraining(c vilbert.Config, mask vilbert.MaskOptions, seed uint64) (*ViLBERTPretraining, error) {
	m, err := vilbert.New(c, seed)
	if err != nil {
		return nil, err
	}
	return &ViLBERTPretraining{P: vilbert.NewPretrainer(m, seed+1), Mask: mask}, nil
}

// Objective masks the batch and runs the pretraining heads forward and
// backward; the loss is their sum.
func (v *ViLBERTPretraining) Objective(b *batch.Batch) (float64, error) {
	rng := tensor.NewRNG(b.Seed)
	pb, err := vilbert.MaskBatch(b, v.Mask, rng)
	if err != nil {
		return 0, err
	}
	loss, err := v.P.Step(pb, true, true, rng)
	if err != nil {
		return 0, err
	}
	v.Last = loss
	return float64(loss.Total), nil
}

// Params lists the encoder's and the heads' parameters (the classifier
// is not trained).
func (v *ViLBERTPretraining) Params() []train.Param {
	return v.P.Parameters()
}

// Forward is not available: a pretraining model has no classifier
// output, and the loop calls Objective instead.
func (v *ViLBERTPretraining) Forward(*batch.Batch, bool) ([]float32, error) {
	return nil, fmt.Errorf("vilbert pretraining has no classifier to predict with; fine-tune the checkpoint first")
}

// Backward is not available; see Forward.
func (v *ViLBERTPretraining) Backward([]float32) error {
	return fmt.Errorf("vilbert pretraining computes its gradients in Objective")
}

var _ train.ObjectiveModel = (*ViLBERTPretraining)(nil)

package vilbert

import (
	"fmt"

	"mmc/ml/batch"
	"mmc/ml/tensor"
	"mmc/ml/train"
)

// Trainable adapts a Model to the training loop's train.Model: batches
// in, two logits per example out, dropout drawn from the batch's seed.
type Trainable struct {
	M *Model
}

// Forward runs the model on a collated batch.
func (t Trainable) Forward(b *batch.Batch, training bool) ([]float32, error) {
	if b.FeatDim != t.M.Config.VFeatureSize {
		return nil, fmt.Errorf("vilbert: batch features are %d wide, the model takes v_feature_size %d", b.FeatDim, t.M.Config.VFeatureSize)
	}
	var rng *tensor.RNG
	if training {
		rng = tensor.NewRNG(b.Seed)
	}
	out, err := t.M.Forward(FromBatch(b), training, rng)
	if err != nil {
		return nil, err
	}
	return out.Logits, nil
}

// SetInterrupt makes Forward stop between layers when f returns an error
// (train.Interruptible).
func (t Trainable) SetInterrupt(f func() error) { t.M.Interrupt = f }

// Backward propagates dLoss/dlogits of the last Forward.
func (t Trainable) Backward(dlogits []float32) error { return t.M.Backward(dlogits) }

// BackwardApply propagates dLoss/dlogits of the last Forward with the
// optimizer update inside (see Model.BackwardApply): a training loop
// without gradient clipping or accumulation can call it, with
// optim.AdamW.InBackward's Apply, in place of Backward and Step to hold
// about 0.9 GB less at full size.
func (t Trainable) BackwardApply(dlogits []float32, apply func(*tensor.Tensor) error) error {
	return t.M.BackwardApply(dlogits, apply)
}

// Params lists every parameter with its key, frozen ones included.
func (t Trainable) Params() []train.Param {
	return t.M.Parameters()
}

var _ train.Model = Trainable{}

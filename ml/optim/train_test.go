package optim

import (
	"testing"

	"mmc/ml/tensor"
)

// TestTrainsXOR fits a two-layer network to XOR with AdamW, clipping,
// accumulation over two half-batches and a warmup schedule: the loss must
// fall below 0.05 and every prediction must be right.
func TestTrainsXOR(t *testing.T) {
	rng := tensor.NewRNG(42)
	w1, b1 := tensor.Param(8, 2), tensor.Param(8)
	w2, b2 := tensor.Param(2, 8), tensor.Param(2)
	for _, p := range []*tensor.Tensor{w1, w2} {
		for i := range p.Data {
			p.Data[i] = 0.5 * rng.NormFloat32()
		}
	}
	params := []Named{{Name: "fc1.weight", Tensor: w1}, {Name: "fc1.bias", Tensor: b1}, {Name: "fc2.weight", Tensor: w2}, {Name: "fc2.bias", Tensor: b2}}
	opt := NewAdamW(SplitDecay(params, 0.01), AdamWConfig{LR: 0.05, Schedule: ConstantWarmup(5)})
	inputs := [][]float32{{0, 0, 0, 1}, {1, 0, 1, 1}} // two half-batches, rows of 2 features
	labels := [][]int{{0, 1}, {1, 0}}
	forward := func(x []float32) *tensor.Tensor {
		h := tensor.Tanh(tensor.Linear(tensor.New(x, 2, 2), w1, b1))
		return tensor.Linear(h, w2, b2)
	}
	acc := Accumulation{Steps: 2}
	var last float32
	for step := 0; step < 300; step++ {
		last = 0
		for i := range inputs {
			loss := tensor.CrossEntropy(forward(inputs[i]), labels[i], 0)
			if err := CheckLoss(opt.Steps()+1, loss.Item()); err != nil {
				t.Fatal(err)
			}
			last += loss.Item() / 2
			tensor.Scale(loss, acc.LossScale()).Backward()
			if acc.Ready() {
				ClipGradNorm(opt.Params(), 5)
				if err := opt.Step(); err != nil {
					t.Fatal(err)
				}
				opt.ZeroGrad()
			}
		}
	}
	if last > 0.05 {
		t.Fatalf("loss %v after 300 steps", last)
	}
	tensor.NoGrad([]*tensor.Tensor{w1, b1, w2, b2}, func() {
		for i := range inputs {
			z := forward(inputs[i])
			for r, y := range labels[i] {
				if pred := z.Data[2*r+1] > z.Data[2*r]; pred != (y == 1) {
					t.Errorf("input %v: logits %v, label %d", inputs[i][2*r:2*r+2], z.Data[2*r:2*r+2], y)
				}
			}
		}
	})
}

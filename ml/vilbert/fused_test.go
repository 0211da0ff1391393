package vilbert

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"mmc/ml/optim"
	"mmc/ml/tensor"
)

func newOptimizer(m *Model) *optim.AdamW {
	return optim.NewAdamW(optim.SplitDecay(m.Parameters(), 0.01), optim.AdamWConfig{LR: 1e-3})
}

// TestBackwardApplyMatchesStep trains two copies of each reference model
// for three dropout steps, one with Backward then AdamW.Step, one with
// the update inside BackwardApply (BackwardStep on the second), and
// requires identical weights.
func TestBackwardApplyMatchesStep(t *testing.T) {
	for _, fc := range fidelityCases {
		for _, freeze := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/freeze%d", fc.name, freeze), func(t *testing.T) {
				whole, fx := loadCase(t, fc, freeze)
				each, _ := loadCase(t, fc, freeze)
				in, labels := fx.inputs(t)
				optWhole, optEach := newOptimizer(whole), newOptimizer(each)
				rngWhole, rngEach := tensor.NewRNG(11), tensor.NewRNG(11)
				for step := range 3 {
					// As torch's zero_grad(set_to_none=True): a parameter
					// without a gradient this step is not updated.
					for _, p := range whole.Parameters() {
						p.Tensor.Grad = nil
					}
					out, err := whole.Forward(in, true, rngWhole)
					if err != nil {
						t.Fatal(err)
					}
					_, dl, err := CrossEntropy(out.Logits, labels, 2)
					if err != nil {
						t.Fatal(err)
					}
					if err := whole.Backward(dl); err != nil {
						t.Fatal(err)
					}
					if err := optWhole.Step(); err != nil {
						t.Fatal(err)
					}

					out, err = each.Forward(in, true, rngEach)
					if err != nil {
						t.Fatal(err)
					}
					_, dl, err = CrossEntropy(out.Logits, labels, 2)
					if err != nil {
						t.Fatal(err)
					}
					// The middle step hands the word table's gradient over by
					// rows (BackwardStep), the others densely.
					if step == 1 {
						err = each.BackwardStep(dl, optEach.InBackward())
					} else {
						err = each.BackwardApply(dl, optEach.InBackward().Apply)
					}
					if err != nil {
						t.Fatal(err)
					}

					pw, pe := whole.Parameters(), each.Parameters()
					for i := range pw {
						if pe[i].Tensor.Grad != nil {
							t.Fatalf("step %d: %s keeps a gradient after BackwardApply", step, pe[i].Name)
						}
						for j, v := range pw[i].Tensor.Data {
							if pe[i].Tensor.Data[j] != v {
								t.Fatalf("step %d: %s[%d] is %v with the update in backward, %v with Step", step, pw[i].Name, j, pe[i].Tensor.Data[j], v)
							}
						}
					}
				}
			})
		}
	}
}

// TestBackwardApplyStopsAtError checks that the first failed update is
// returned and no update follows it.
func TestBackwardApplyStopsAtError(t *testing.T) {
	m, fx := loadCase(t, fidelityCases[0], 0)
	in, labels := fx.inputs(t)
	out, err := m.Forward(in, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, dl, err := CrossEntropy(out.Logits, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	boom := errors.New("boom")
	err = m.BackwardApply(dl, func(*tensor.Tensor) error { calls++; return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "update inside backward") {
		t.Fatalf("error %v", err)
	}
	if calls != 1 {
		t.Fatalf("apply called %d times after failing", calls)
	}
	if err := m.BackwardApply(dl, nil); err == nil {
		t.Fatal("BackwardApply without a function succeeded")
	}
}

package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/ml/batch"
)

// toyObjective trains a toyLinear on its own objective: the same
// cross-entropy the loop would compute, so the result must equal
// label-loss training bit for bit.
type toyObjective struct {
	Model
	loss   LossConfig
	poison string // an example id whose batch gets a NaN loss
}

func (o *toyObjective) Objective(b *batch.Batch) (float64, error) {
	for _, id := range b.IDs {
		if id == o.poison {
			return math.NaN(), nil
		}
	}
	logits, err := o.Forward(b, true)
	if err != nil {
		return 0, err
	}
	loss, grad, err := o.loss.Compute(logits, b.Labels)
	if err != nil {
		return 0, err
	}
	return loss, o.Backward(grad)
}

func objectiveTrainer(t *testing.T, cfg Config, n int, objective bool, store Store) (*Trainer, *toyLinear, *toyObjective) {
	t.Helper()
	m := newToyLinear(16, 5, 3)
	opt, err := NewOptimizer(m, cfg, n)
	if err != nil {
		t.Fatal(err)
	}
	var model Model = Autograd(m)
	var obj *toyObjective
	if objective {
		obj = &toyObjective{Model: model, loss: cfg.Loss}
		model = obj
	}
	return &Trainer{Model: model, Optimizer: opt, Config: cfg, Store: store, Fingerprint: "obj"}, m, obj
}

// TestObjectiveModel: an ObjectiveModel trains without validation,
// exactly as label-loss training of the same loss does; max_steps and
// drop_last bound the steps; a NaN objective stops the run.
func TestObjectiveModel(t *testing.T) {
	tr := toyData(50, 31, 0.1)
	cfg := toyConfig()
	cfg.Epochs, cfg.DropLast, cfg.MaxSteps = 4, true, 10
	if got := cfg.StepsPerEpoch(tr.Len()); got != 3 {
		t.Fatalf("StepsPerEpoch(50) with batch 16 and drop_last = %d, want 3", got)
	}
	var steps []StepInfo
	a, am, _ := objectiveTrainer(t, cfg, tr.Len(), true, nil)
	a.Hooks.OnStep = func(s StepInfo) { steps = append(steps, s) }
	h, err := a.Run(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 10 || h.Epochs[len(h.Epochs)-1].Steps != 10 || len(h.Epochs) != 4 || !strings.Contains(h.Stopped, "max_steps 10") {
		t.Errorf("%d steps in %d epochs (%q), want 10 in 4 (3+3+3+1)", len(steps), len(h.Epochs), h.Stopped)
	}
	for _, s := range steps {
		if s.Batches != 3 {
			t.Fatalf("step %+v: want 3 batches an epoch", s)
		}
	}
	if h.BestEpoch != len(h.Epochs) {
		t.Errorf("best epoch %d without validation, want the last (%d)", h.BestEpoch, len(h.Epochs))
	}
	b, bm, _ := objectiveTrainer(t, cfg, tr.Len(), false, nil)
	if _, err := b.Run(context.Background(), tr, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(am.W.Data, bm.W.Data) || !reflect.DeepEqual(am.B.Data, bm.B.Data) {
		t.Error("objective training differs from label-loss training of the same loss")
	}

	c, _, obj := objectiveTrainer(t, cfg, tr.Len(), true, nil)
	obj.poison = tr[7].ID
	if _, err := c.Run(context.Background(), tr, nil); !errors.Is(err, ErrNonFiniteLoss) || !strings.Contains(err.Error(), tr[7].ID) {
		t.Errorf("NaN objective: %v; want ErrNonFiniteLoss naming meme %s", err, tr[7].ID)
	}
}

// TestObjectiveResume: a step-budgeted objective run killed after an
// epoch resumes to the uninterrupted result.
func TestObjectiveResume(t *testing.T) {
	tr := toyData(50, 33, 0.1)
	cfg := toyConfig()
	cfg.Epochs, cfg.DropLast, cfg.MaxSteps = 4, true, 10
	ref, refModel, _ := objectiveTrainer(t, cfg, tr.Len(), true, nil)
	want, err := ref.Run(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	ctx, cancel := context.WithCancel(context.Background())
	first, _, _ := objectiveTrainer(t, cfg, tr.Len(), true, store)
	first.Hooks.OnEpoch = func(e Epoch) {
		if e.Epoch == 2 {
			cancel()
		}
	}
	if _, err := first.Run(ctx, tr, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	second, m, _ := objectiveTrainer(t, cfg, tr.Len(), true, store)
	got, err := second.Run(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripTiming(got), stripTiming(want)) {
		t.Errorf("resumed history\n%+v\nuninterrupted\n%+v", stripTiming(got), stripTiming(want))
	}
	if !reflect.DeepEqual(m.W.Data, refModel.W.Data) {
		t.Error("resumed weights differ from the uninterrupted run")
	}
}

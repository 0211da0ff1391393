package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/ml/batch/batchtest"
	"mmc/ml/checkpoint"
	"mmc/ml/metrics"
)

// toyData is batchtest.Toy as a Dataset.
func toyData(n int, seed uint64, noise float64) Examples {
	return Examples(batchtest.Toy(n, seed, noise))
}

func toyConfig() Config {
	return Config{
		Epochs: 6, BatchSize: 16, Seed: 11, Patience: 0, Workers: 2, Ahead: 3,
		Optimizer: OptimConfig{LR: 0.05, Eps: 1e-8, WeightDecay: 0.01, WarmupSteps: 5},
		Loss:      LossConfig{Kind: LossCE},
	}
}

func newToyTrainer(t *testing.T, cfg Config, n int, store Store) (*Trainer, *toyLinear) {
	t.Helper()
	m := newToyLinear(16, 5, 3)
	opt, err := NewOptimizer(m, cfg, n)
	if err != nil {
		t.Fatal(err)
	}
	return &Trainer{Model: Autograd(m), Optimizer: opt, Config: cfg, Store: store, Fingerprint: "toy"}, m
}

// stripTiming zeroes the wall-clock fields so histories compare exactly.
func stripTiming(h *History) History {
	c := *h
	c.Epochs = append([]Epoch(nil), h.Epochs...)
	for i := range c.Epochs {
		c.Epochs[i].Seconds, c.Epochs[i].MemesPerSec = 0, 0
	}
	return c
}

func TestTrainLearnsAndRestoresBest(t *testing.T) {
	tr, val := toyData(400, 1, 0.05), toyData(200, 2, 0.05)
	cfg := toyConfig()
	trainer, m := newToyTrainer(t, cfg, tr.Len(), nil)
	var steps int
	trainer.Hooks.OnStep = func(StepInfo) { steps++ }
	h, err := trainer.Run(context.Background(), tr, val)
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.Epochs * cfg.StepsPerEpoch(tr.Len()); steps != want || h.Epochs[len(h.Epochs)-1].Steps != want {
		t.Errorf("%d steps reported, history says %d, want %d", steps, h.Epochs[len(h.Epochs)-1].Steps, want)
	}
	if h.BestAUROC < 0.85 {
		t.Errorf("best val AUROC %.3f, want ≥ 0.85 on learnable data; history %+v", h.BestAUROC, h.Epochs)
	}
	if first := h.Epochs[0].TrainLoss; first <= h.Epochs[len(h.Epochs)-1].TrainLoss {
		t.Errorf("train loss did not fall: %+v", h.Epochs)
	}
	// The model must hold the best epoch's weights after Run.
	_, logits, labels, err := Predict(context.Background(), Autograd(m), val, 64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := metrics.Evaluate(logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	if got.AUROC != h.BestAUROC {
		t.Errorf("AUROC of the returned model %v, best epoch %d recorded %v", got.AUROC, h.BestEpoch, h.BestAUROC)
	}
}

func TestDeterministicAcrossLoaderWorkers(t *testing.T) {
	tr, val := toyData(200, 3, 0.2), toyData(100, 4, 0.2)
	var hs []History
	for _, workers := range []int{1, 4} {
		cfg := toyConfig()
		cfg.Workers, cfg.Epochs = workers, 3
		trainer, _ := newToyTrainer(t, cfg, tr.Len(), nil)
		h, err := trainer.Run(context.Background(), tr, val)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, stripTiming(h))
	}
	if !reflect.DeepEqual(hs[0], hs[1]) {
		t.Errorf("histories differ between 1 and 4 loader workers:\n%+v\n%+v", hs[0], hs[1])
	}
}

func TestResumeMatchesUninterruptedRun(t *testing.T) {
	tr, val := toyData(300, 5, 0.25), toyData(120, 6, 0.25)
	cfg := toyConfig()
	cfg.Epochs, cfg.Patience = 6, 3

	ref, refModel := newToyTrainer(t, cfg, tr.Len(), DirStore{Dir: filepath.Join(t.TempDir(), "ref")})
	want, err := ref.Run(context.Background(), tr, val)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// kill reports whether to cancel the run after this step/epoch.
		killStep  func(StepInfo) bool
		killEpoch func(Epoch) bool
	}{
		{"killed after epoch 2", nil, func(e Epoch) bool { return e.Epoch == 2 }},
		{"killed mid epoch 3", func(s StepInfo) bool { return s.Epoch == 3 && s.Batch == 7 }, nil},
		{"killed mid epoch 1", func(s StepInfo) bool { return s.Epoch == 1 && s.Batch == 2 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
			ctx, cancel := context.WithCancel(context.Background())
			first, _ := newToyTrainer(t, cfg, tr.Len(), store)
			first.Hooks.OnStep = func(s StepInfo) {
				if tt.killStep != nil && tt.killStep(s) {
					cancel()
				}
			}
			first.Hooks.OnEpoch = func(e Epoch) {
				if tt.killEpoch != nil && tt.killEpoch(e) {
					cancel()
				}
			}
			if _, err := first.Run(ctx, tr, val); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run returned %v, want context.Canceled", err)
			}
			cancel()
			second, m := newToyTrainer(t, cfg, tr.Len(), store)
			got, err := second.Run(context.Background(), tr, val)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stripTiming(got), stripTiming(want)) {
				t.Errorf("resumed history\n%+v\nuninterrupted\n%+v", stripTiming(got), stripTiming(want))
			}
			if !reflect.DeepEqual(m.W.Data, refModel.W.Data) || !reflect.DeepEqual(m.B.Data, refModel.B.Data) {
				t.Error("final weights differ from the uninterrupted run")
			}
		})
	}
}

func TestIncompatibleStateIsIgnored(t *testing.T) {
	tr, val := toyData(100, 7, 0.1), toyData(60, 8, 0.1)
	cfg := toyConfig()
	cfg.Epochs = 2
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	a, _ := newToyTrainer(t, cfg, tr.Len(), store)
	a.Fingerprint = "other model"
	if _, err := a.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	b, _ := newToyTrainer(t, cfg, tr.Len(), store)
	var epochs int
	b.Hooks.OnEpoch = func(Epoch) { epochs++ }
	if _, err := b.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	if epochs != cfg.Epochs {
		t.Errorf("ran %d epochs after finding a state with another fingerprint, want a fresh run of %d", epochs, cfg.Epochs)
	}
}

func TestEarlyStopping(t *testing.T) {
	// Pure-noise labels: validation AUROC wanders, so a patience of 1
	// must end the run right after the first epoch that does not beat
	// the best.
	tr, val := toyData(200, 9, 0.5), toyData(100, 10, 0.5)
	cfg := toyConfig()
	cfg.Epochs, cfg.Patience = 12, 1
	trainer, _ := newToyTrainer(t, cfg, tr.Len(), nil)
	h, err := trainer.Run(context.Background(), tr, val)
	if err != nil {
		t.Fatal(err)
	}
	best := math.Inf(-1)
	for i, e := range h.Epochs {
		improved := e.ValAUROC > best
		best = math.Max(best, e.ValAUROC)
		last := i == len(h.Epochs)-1
		if !improved && !last {
			t.Fatalf("epoch %d did not improve (%.4f) but training went on: %+v", e.Epoch, e.ValAUROC, h.Epochs)
		}
	}
	if len(h.Epochs) == cfg.Epochs {
		t.Skipf("validation AUROC improved in all %d epochs; early stop not exercised by this data", cfg.Epochs)
	}
	if !strings.HasPrefix(h.Stopped, "early stop") {
		t.Errorf("Stopped = %q after %d of %d epochs", h.Stopped, len(h.Epochs), cfg.Epochs)
	}
}

func TestNaNLossStops(t *testing.T) {
	tr, val := toyData(64, 11, 0.1), toyData(32, 12, 0.1)
	tr[37].Features[0] = float32(math.Inf(1)) // example 37 poisons its batch
	cfg := toyConfig()
	trainer, _ := newToyTrainer(t, cfg, tr.Len(), nil)
	_, err := trainer.Run(context.Background(), tr, val)
	if !errors.Is(err, ErrNonFiniteLoss) {
		t.Fatalf("error %v, want ErrNonFiniteLoss", err)
	}
	if !strings.Contains(err.Error(), "step ") || !strings.Contains(err.Error(), tr[37].ID) {
		t.Errorf("error %q should name the step and the meme id %s", err, tr[37].ID)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	st := &State{
		Meta:      StateMeta{Fingerprint: "f", EpochsDone: 2, Step: 9, History: History{BestEpoch: 1, BestAUROC: 0.75}, OptimizerMeta: map[string]string{"step": "9"}},
		Model:     map[string]*checkpoint.Array{"a": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, float32(math.Inf(-1))}}},
		Optimizer: map[string]*checkpoint.Array{"a.exp_avg": {Shape: []int{}, Data: []float32{0.5}}},
		Best:      map[string]*checkpoint.Array{},
	}
	if err := (DirStore{dir}).Save(st); err != nil {
		t.Fatal(err)
	}
	got, err := DirStore{dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", got, st)
	}
	if none, err := (DirStore{filepath.Join(dir, "absent")}).Load(); none != nil || err != nil {
		t.Errorf("missing store: %v, %v; want nil, nil", none, err)
	}
	os.WriteFile(filepath.Join(dir, stateName(1), stateModel), []byte("garbage!"), 0o644)
	if _, err := (DirStore{dir}).Load(); err == nil || !strings.Contains(err.Error(), stateModel) {
		t.Errorf("corrupt model file: error %v should name %s", err, stateModel)
	}
}

func TestFreshIgnoresSavedState(t *testing.T) {
	tr, val := toyData(100, 13, 0.1), toyData(60, 14, 0.1)
	cfg := toyConfig()
	cfg.Epochs = 2
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	a, _ := newToyTrainer(t, cfg, tr.Len(), store)
	if _, err := a.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	b, _ := newToyTrainer(t, cfg, tr.Len(), store)
	b.Fresh = true
	var epochs int
	b.Hooks.OnEpoch = func(Epoch) { epochs++ }
	if _, err := b.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	if epochs != cfg.Epochs {
		t.Errorf("Fresh run trained %d epochs over a finished state, want %d", epochs, cfg.Epochs)
	}
}

package train

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"mmc/atomicfile"
	"mmc/fault"
	"mmc/ml/batch"
	"mmc/ml/checkpoint"
)

func stateAt(epochs int) *State {
	v := float32(epochs)
	return &State{
		Meta:      StateMeta{Fingerprint: "f", EpochsDone: epochs, Step: 10 * epochs, OptimizerMeta: map[string]string{}},
		Model:     checkpoint.StateDict{"w": {Shape: []int{2}, Data: []float32{v, v}}},
		Optimizer: checkpoint.StateDict{"w.exp_avg": {Shape: []int{2}, Data: []float32{v, 0}}},
		Best:      checkpoint.StateDict{"w": {Shape: []int{2}, Data: []float32{v, 1}}},
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestStateSaveChild is the child side of TestKilledStateSave.
func TestStateSaveChild(t *testing.T) {
	dir := os.Getenv("TRAIN_STATE_CHILD")
	if dir == "" {
		t.Skip("only run as a child process")
	}
	if err := (DirStore{dir}).Save(stateAt(2)); err != nil {
		t.Fatal(err)
	}
}

// TestKilledStateSave kills the save of epoch 2's state at each point of
// the switch (kill -9 through MMC_FAULT): the next run always finds a
// complete state, the newest complete one, and nothing else is left.
func TestKilledStateSave(t *testing.T) {
	for _, c := range []struct {
		point string
		want  int // epochs of the state found after the kill
	}{
		{"atomicfile.file.written", 1}, // inside the folder, before state.json
		{"train.state.written", 1},
		{"train.state.renamed", 2}, // complete, but CURRENT names epoch 1
		{"train.state.pointed", 2},
	} {
		t.Run(c.point, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "training_state")
			store := DirStore{dir}
			if err := store.Save(stateAt(1)); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestStateSaveChild$")
			cmd.Env = append(os.Environ(), "TRAIN_STATE_CHILD="+dir, fault.Env+"="+c.point)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child: %v, want it killed at %s\n%s", err, c.point, out)
			}
			unlock, err := store.Lock()
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			st, err := store.Load()
			if err != nil || st == nil {
				t.Fatalf("after the kill: %v, %v", st, err)
			}
			if want := stateAt(c.want); !reflect.DeepEqual(st, want) {
				t.Fatalf("state after epoch %d found, want epoch %d", st.Meta.EpochsDone, c.want)
			}
			if got, want := dirNames(t, dir), []string{".lock", "CURRENT", stateName(c.want)}; !reflect.DeepEqual(got, want) {
				t.Fatalf("left in the state folder: %v, want %v", got, want)
			}
			// And the next save goes on from there.
			if err := store.Save(stateAt(3)); err != nil {
				t.Fatal(err)
			}
			if st, _ := store.Load(); st.Meta.EpochsDone != 3 {
				t.Fatalf("after the next save: epoch %d", st.Meta.EpochsDone)
			}
		})
	}
}

// TestRecoverEarlierLayoutSwap: an earlier version's two-rename swap
// killed between its renames left no training_state, the new state as
// .training_state.tmp-N and the old one as .training_state.tmp-N.old;
// the next run resumes from the new one and converts the layout.
func TestRecoverEarlierLayoutSwap(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "training_state")
	writeLegacy := func(at string, st *State) {
		if err := os.MkdirAll(at, 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := DirStore{filepath.Join(parent, "x")}
		if err := tmp.Save(st); err != nil {
			t.Fatal(err)
		}
		for _, f := range stateFiles {
			os.Rename(filepath.Join(tmp.Dir, stateName(1), f), filepath.Join(at, f))
		}
		os.RemoveAll(tmp.Dir)
	}
	writeLegacy(filepath.Join(parent, ".training_state.tmp-1234567890"), stateAt(5))
	writeLegacy(filepath.Join(parent, ".training_state.tmp-1234567890.old"), stateAt(4))
	store := DirStore{dir}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	st, err := store.Load()
	if err != nil || st == nil || st.Meta.EpochsDone != 5 {
		t.Fatalf("recovered %+v, %v; want the state after epoch 5", st, err)
	}
	if got := dirNames(t, parent); !reflect.DeepEqual(got, []string{"training_state"}) {
		t.Fatalf("left beside the state: %v", got)
	}
	if err := store.Save(stateAt(6)); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{".lock", "CURRENT", stateName(1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("converted layout: %v, want %v", got, want)
	}
}

func settingsTrainer(t *testing.T, cfg Config, n int, store Store) *Trainer {
	tr, _ := newToyTrainer(t, cfg, n, store)
	tr.Fingerprint = ""
	tr.Settings = cfg.Settings("train")
	tr.Settings["data.train"] = "toy-1"
	return tr
}

// TestResumeAcrossSettings: settings that cannot change the results
// (workers, look-ahead, eval batch size) keep the state; a real
// difference is named, and the old state is kept aside under its
// fingerprint, not overwritten.
func TestResumeAcrossSettings(t *testing.T) {
	tr, val := toyData(100, 13, 0.1), toyData(60, 14, 0.1)
	cfg := toyConfig()
	cfg.Epochs = 2
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	a := settingsTrainer(t, cfg, tr.Len(), store)
	if _, err := a.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	// Other loader settings only: the finished state is resumed, so
	// nothing is left to train.
	cfg2 := cfg
	cfg2.Workers, cfg2.Ahead, cfg2.EvalBatchSize = 1, 7, 64
	b := settingsTrainer(t, cfg2, tr.Len(), store)
	var trained int
	var notes []string
	b.Hooks.OnEpoch = func(Epoch) { trained++ }
	b.Hooks.OnNote = func(s string) { notes = append(notes, s) }
	if _, err := b.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	if trained != 0 || len(notes) != 0 {
		t.Fatalf("changing workers, ahead and eval_batch_size: trained %d epochs again, notes %q", trained, notes)
	}
	saved, _ := store.Load()
	cfg3 := cfg
	cfg3.Optimizer.LR = 0.01
	c := settingsTrainer(t, cfg3, tr.Len(), store)
	c.Hooks.OnEpoch = func(Epoch) { trained++ }
	c.Hooks.OnNote = func(s string) { notes = append(notes, s) }
	if _, err := c.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	if trained != 2 || len(notes) != 1 || !strings.Contains(notes[0], "train.optimizer.lr: 0.05 → 0.01") {
		t.Fatalf("changing lr: trained %d epochs, notes %q; want 2 and the setting named", trained, notes)
	}
	kept := store.KeptName(saved.Meta.Fingerprint)
	if !strings.Contains(notes[0], kept) {
		t.Fatalf("note %q does not say where the old state went (%s)", notes[0], kept)
	}
	old, err := DirStore{kept}.Load()
	if err != nil || !reflect.DeepEqual(old, saved) {
		t.Fatalf("the kept state differs from the one saved (%v)", err)
	}
	now, _ := store.Load()
	if now.Meta.Fingerprint == saved.Meta.Fingerprint || now.Meta.Settings["train.optimizer.lr"] != "0.01" {
		t.Fatalf("the new run's state was not saved: %+v", now.Meta)
	}
}

// TestFreshOverOtherSettings: resume: never (Fresh) over a saved state
// says so: one of the same settings is replaced (noted), one of other
// settings is kept aside like resume: auto, naming the difference, and
// an unreadable one is noted and replaced rather than failing the run.
func TestFreshOverOtherSettings(t *testing.T) {
	tr, val := toyData(100, 13, 0.1), toyData(60, 14, 0.1)
	cfg := toyConfig()
	cfg.Epochs = 1
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	a := settingsTrainer(t, cfg, tr.Len(), store)
	if _, err := a.Run(context.Background(), tr, val); err != nil {
		t.Fatal(err)
	}
	run := func(cfg Config) (notes []string, epochs int) {
		t.Helper()
		b := settingsTrainer(t, cfg, tr.Len(), store)
		b.Fresh = true
		b.Hooks.OnEpoch = func(Epoch) { epochs++ }
		b.Hooks.OnNote = func(s string) { notes = append(notes, s) }
		if _, err := b.Run(context.Background(), tr, val); err != nil {
			t.Fatal(err)
		}
		return notes, epochs
	}

	// Same settings: replaced, as asked, and said.
	notes, epochs := run(cfg)
	if epochs != 1 || len(notes) != 1 || !strings.Contains(notes[0], "resume: never") || !strings.Contains(notes[0], "same settings") || !strings.Contains(notes[0], "replaced") {
		t.Fatalf("fresh run over a state of the same settings: %d epochs, notes %q", epochs, notes)
	}

	// Other settings: the difference named, the old state kept aside.
	saved, _ := store.Load()
	cfg2 := cfg
	cfg2.Optimizer.LR = 0.01
	notes, epochs = run(cfg2)
	kept := store.KeptName(saved.Meta.Fingerprint)
	if epochs != 1 || len(notes) != 1 || !strings.Contains(notes[0], "train.optimizer.lr: 0.05 → 0.01") || !strings.Contains(notes[0], kept) {
		t.Fatalf("fresh run over a state of other settings: %d epochs, notes %q; want lr named and %s", epochs, notes, kept)
	}
	old, err := DirStore{kept}.Load()
	if err != nil || !reflect.DeepEqual(old, saved) {
		t.Fatalf("the kept state differs from the one saved (%v)", err)
	}
	if now, _ := store.Load(); now.Meta.Settings["train.optimizer.lr"] != "0.01" {
		t.Fatalf("the fresh run's state was not saved: %+v", now.Meta)
	}

	// Unreadable state: noted, replaced, the run goes on.
	cur, err := store.stateDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cur, stateMetaFile), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes, epochs = run(cfg2)
	if epochs != 1 || len(notes) != 1 || !strings.Contains(notes[0], "cannot be read") || !strings.Contains(notes[0], stateMetaFile) {
		t.Fatalf("fresh run over a broken state: %d epochs, notes %q", epochs, notes)
	}
	if now, err := store.Load(); err != nil || now == nil {
		t.Fatalf("the fresh run did not replace the broken state: %v", err)
	}
}

// TestSecondRunLocked: a run over a state folder in use fails at once,
// naming the process that holds it.
func TestSecondRunLocked(t *testing.T) {
	tr, val := toyData(50, 13, 0.1), toyData(30, 14, 0.1)
	store := DirStore{Dir: filepath.Join(t.TempDir(), "state")}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	a, _ := newToyTrainer(t, toyConfig(), tr.Len(), store)
	_, err = a.Run(context.Background(), tr, val)
	var le *atomicfile.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), store.Dir) {
		t.Fatalf("second run: %v, want it refused naming pid %d and %s", err, os.Getpid(), store.Dir)
	}
}

// cancelModel cancels the run inside its forward pass and records
// whether backward ran.
type cancelModel struct {
	Model
	cancel    context.CancelFunc
	backwards int
	interrupt func() error
}

func (m *cancelModel) Forward(b *batch.Batch, train bool) ([]float32, error) {
	out, err := m.Model.Forward(b, train)
	if train {
		m.cancel()
	}
	return out, err
}

func (m *cancelModel) Backward(d []float32) error { m.backwards++; return m.Model.Backward(d) }

func (m *cancelModel) SetInterrupt(f func() error) { m.interrupt = f }

// TestCancelBetweenForwardAndBackward: Ctrl-C during a step's forward
// pass stops the run before its backward pass, and the model was given
// the context to check between its layers.
func TestCancelBetweenForwardAndBackward(t *testing.T) {
	tr, val := toyData(50, 13, 0.1), toyData(30, 14, 0.1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, _ := newToyTrainer(t, toyConfig(), tr.Len(), nil)
	m := &cancelModel{Model: a.Model, cancel: cancel}
	a.Model = m
	var gotInterrupt bool
	a.Hooks.OnStep = func(StepInfo) { t.Error("a step finished after the cancel") }
	m.cancel = func() {
		gotInterrupt = m.interrupt != nil && m.interrupt() == nil
		cancel()
	}
	_, err := a.Run(ctx, tr, val)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "between forward and backward") {
		t.Fatalf("Run = %v, want canceled between forward and backward", err)
	}
	if m.backwards != 0 {
		t.Fatalf("backward ran %d times after the cancel", m.backwards)
	}
	if !gotInterrupt || m.interrupt != nil {
		t.Fatalf("the model's interrupt was not set during the run (%v) or not cleared after it", gotInterrupt)
	}
}

// Package train is the training and evaluation loop for the binary
// (hateful / not hateful) multimodal classifiers: batches loaded ahead of
// compute in goroutines, a loss over two logits, an optimiser step on a
// learning-rate schedule, validation after every epoch, early stopping on
// validation AUROC, the best epoch's weights kept, and the full training
// state saved atomically after every epoch so a killed run resumes and
// ends with the same metrics as an uninterrupted one.
//
// Determinism: with the same seed, data and configuration, training on
// one goroutine gives bit-identical weights and metrics. The epoch order
// comes from (seed, epoch) and each batch carries a seed from (seed,
// step) for the model's dropout, so nothing depends on how many loader
// goroutines ran or on where a previous run stopped.
//
// The package knows models only through Model and optimisers through
// Optimizer; it has no notion of pipelines, files other than its state
// store, or terminals (progress goes to callbacks).
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"mmc/fault"
	"mmc/ml/batch"
	"mmc/ml/checkpoint"
	"mmc/ml/metrics"
	"mmc/ml/optim"
	"mmc/ml/tensor"
)

// Param is a named trainable tensor; the name is its state_dict key
// (ml/'s one named-parameter type, tensor.Named).
type Param = tensor.Named

// Model is a classifier producing two logits per example. It may use
// the tensor package's autograd (see Autograd) or its own backward pass.
type Model interface {
	// Forward returns logits [B, 2] row-major. train enables dropout,
	// drawn from a generator seeded with b.Seed.
	Forward(b *batch.Batch, train bool) ([]float32, error)
	// Backward takes dLoss/dlogits of the last training Forward and
	// accumulates the gradients into the parameters' Grad.
	Backward(dlogits []float32) error
	// Params lists every parameter in a fixed order, frozen ones
	// included (they do not require a gradient).
	Params() []Param
}

// InBackwardModel is a Model that can hand each parameter's finished
// gradient to apply during its backward pass instead of keeping it, so
// the optimizer update runs inside backward (see optim.AdamW.InBackward).
// The loop uses it whenever the optimizer supports it: the arithmetic is
// the same as Backward followed by Step, bit for bit.
type InBackwardModel interface {
	Model
	BackwardApply(dlogits []float32, apply func(*tensor.Tensor) error) error
}

// ObjectiveModel is a model trained on its own objective instead of on
// labels (pretraining: masked tokens, masked regions, image–text
// alignment). When the Trainer's Model implements it, the loop calls
// Objective for each batch in place of Forward, the label loss and
// Backward; labels are not needed, and Forward is never called.
type ObjectiveModel interface {
	Model
	// Objective runs forward and backward on b in training mode (any
	// randomness drawn from a generator seeded with b.Seed) and returns
	// the loss; the gradients accumulate into the parameters' Grad.
	Objective(b *batch.Batch) (float64, error)
}

// inBackwardOptimizer is an Optimizer that can update one parameter at a
// time (*optim.AdamW).
type inBackwardOptimizer interface {
	InBackward() *optim.StepInBackward
}

// Net is a model written on the tensor package's autograd.
type Net interface {
	Forward(b *batch.Batch, train bool) *tensor.Tensor // logits [B, 2]
	Params() []Param
}

// Autograd adapts a Net to Model: Backward seeds the recorded graph of
// the last Forward with dlogits.
func Autograd(n Net) Model { return &autograd{net: n} }

type autograd struct {
	net  Net
	last *tensor.Tensor
}

func (a *autograd) Forward(b *batch.Batch, train bool) ([]float32, error) {
	out := a.net.Forward(b, train)
	if len(out.Data) != 2*b.Size {
		return nil, fmt.Errorf("model returned logits of shape %v for a batch of %d, want [%d, 2]", out.Shape, b.Size, b.Size)
	}
	a.last = nil
	if train && out.RequiresGrad() {
		a.last = out
	}
	return out.Data, nil
}

func (a *autograd) Backward(dlogits []float32) error {
	if a.last == nil {
		return errors.New("backward without a training forward pass")
	}
	a.last.BackwardWith(dlogits)
	a.last = nil
	return nil
}

func (a *autograd) Params() []Param { return a.net.Params() }

// Optimizer updates parameters from their accumulated gradients on its
// own learning-rate schedule (*optim.AdamW satisfies it).
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient
	// and advances the schedule; it fails, changing nothing, on a
	// non-finite gradient.
	Step() error
	// LR is the learning rate the next Step will use.
	LR() float64
	// StateDict returns the moments and the step count (in meta);
	// LoadStateDict restores them.
	StateDict() (checkpoint.StateDict, map[string]string)
	LoadStateDict(sd checkpoint.StateDict, meta map[string]string) error
}

// Config holds the loop's settings (parameters.yml → train).
type Config struct {
	Epochs        int         `yaml:"epochs" json:"epochs"`
	BatchSize     int         `yaml:"batch_size" json:"batch_size"`
	EvalBatchSize int         `yaml:"eval_batch_size" json:"eval_batch_size"` // 0: BatchSize
	Optimizer     OptimConfig `yaml:"optimizer" json:"optimizer"`
	Patience      int         `yaml:"patience" json:"patience"` // epochs without a better val AUROC before stopping; 0 disables
	Seed          uint64      `yaml:"seed" json:"seed"`
	Loss          LossConfig  `yaml:"loss" json:"loss"`
	// Workers is the number of loader goroutines, Ahead the number of
	// batches they may prepare ahead of compute.
	Workers int `yaml:"workers" json:"workers"`
	Ahead   int `yaml:"ahead" json:"ahead"`
	// MaxSteps ends training after that many optimiser steps (0: no
	// limit), for step-budgeted runs such as pretraining; the schedule
	// then spans MaxSteps.
	MaxSteps int `yaml:"max_steps" json:"max_steps,omitempty"`
	// DropLast leaves out each epoch's last batch when it is smaller
	// than BatchSize (pretraining's alignment negatives need two memes).
	DropLast bool `yaml:"drop_last" json:"drop_last,omitempty"`
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("train: epochs %d, want > 0", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("train: batch_size %d, want > 0", c.BatchSize)
	case c.EvalBatchSize < 0:
		return fmt.Errorf("train: eval_batch_size %d is negative", c.EvalBatchSize)
	case c.Patience < 0:
		return fmt.Errorf("train: patience %d is negative", c.Patience)
	case c.MaxSteps < 0:
		return fmt.Errorf("train: max_steps %d is negative", c.MaxSteps)
	}
	if err := c.Optimizer.Validate(); err != nil {
		return err
	}
	return c.Loss.Validate()
}

// Epoch is one row of training_history.json.
type Epoch struct {
	Epoch       int     `json:"epoch"` // 1-based
	Steps       int     `json:"steps"` // global steps done at the end of the epoch
	TrainLoss   float64 `json:"train_loss"`
	ValLoss     float64 `json:"val_loss"`
	ValAUROC    float64 `json:"val_auroc"`
	ValAccuracy float64 `json:"val_accuracy"`
	ValF1       float64 `json:"val_f1"`
	LR          float64 `json:"lr"` // learning rate of the epoch's last step
	Seconds     float64 `json:"seconds"`
	MemesPerSec float64 `json:"memes_per_sec"`
}

// History is the record of a training run.
type History struct {
	Epochs    []Epoch `json:"epochs"`
	BestEpoch int     `json:"best_epoch"` // 1-based; 0 before the first validation
	BestAUROC float64 `json:"best_val_auroc"`
	Stopped   string  `json:"stopped"` // why training ended
}

// StepInfo is reported after every optimisation step.
type StepInfo struct {
	Epoch, Step    int // 1-based epoch, 0-based global step just done
	Batch, Batches int // 1-based batch within the epoch and their number
	Loss, LR       float64
	Examples       int // examples seen this epoch
	ElapsedInEpoch time.Duration
}

// Hooks receive progress; any may be nil.
type Hooks struct {
	OnStep  func(StepInfo)
	OnEpoch func(Epoch)
	// OnNote receives messages for the user (a saved state not resumed,
	// and why).
	OnNote func(string)
}

func (t *Trainer) note(msg string) {
	if t.Hooks.OnNote != nil {
		t.Hooks.OnNote(msg)
	}
}

// Trainer runs the loop. Model, Optimizer and Config are required; Store
// enables per-epoch state saving and resume.
type Trainer struct {
	Model     Model
	Optimizer Optimizer
	Config    Config
	Store     Store
	Hooks     Hooks
	// Fresh starts from the initial weights even when Store holds a
	// state (resume: never). A state of the same fingerprint is
	// overwritten after the first epoch; one of another fingerprint is
	// kept aside by a KeepingStore as when resuming. Both are noted.
	Fresh bool
	// Fingerprint identifies what a saved state must match to be resumed
	// (model sizes, data, training settings). When empty it is computed
	// from Settings (see Fingerprint).
	Fingerprint string
	// Settings are what the fingerprint covers, as flattened keys (see
	// Flatten, Config.Settings); saved with the state so that a
	// mismatch says which setting differs. A stored state with another
	// fingerprint is not resumed: a KeepingStore keeps it aside (named
	// with its fingerprint), otherwise the first save overwrites it.
	Settings map[string]string
}

// Interruptible is a Model that can stop inside a forward pass (between
// layers) when interrupt returns an error; the Trainer sets ctx.Err for
// the run, so Ctrl-C does not wait for the end of a long step.
type Interruptible interface {
	SetInterrupt(interrupt func() error)
}

// FingerprintValue is the fingerprint a state must carry to be resumed.
func (t *Trainer) FingerprintValue() string {
	if t.Fingerprint == "" && t.Settings != nil {
		return Fingerprint(t.Settings)
	}
	return t.Fingerprint
}

// Mismatch explains why a saved state does not fit this trainer: which
// settings differ (at most 8 listed); "" when it fits.
func (t *Trainer) Mismatch(st *State) string {
	if st == nil || st.Meta.Fingerprint == t.FingerprintValue() {
		return ""
	}
	if t.Settings == nil {
		return "its fingerprint differs (another model, data or settings)"
	}
	diff := Differences(st.Meta.Settings, t.Settings, 8)
	if len(diff) == 0 {
		return "its fingerprint differs, though the recorded settings agree (the model, data or fingerprint scheme changed)"
	}
	return "settings differ: " + strings.Join(diff, "; ")
}

// setAsideForFresh handles a saved state when the run starts afresh
// (Fresh, resume: never): one of other settings is kept aside as with
// resume: auto (a plain Store: it is replaced, and the note says so);
// one of the same settings is replaced after the first epoch, as asked.
// Either way a note names the state and, when they differ, the settings.
func (t *Trainer) setAsideForFresh() error {
	var meta *StateMeta
	var err error
	if ml, ok := t.Store.(MetaLoader); ok {
		meta, err = ml.LoadMeta()
	} else {
		var st *State
		if st, err = t.Store.Load(); st != nil {
			meta = &st.Meta
		}
	}
	if err != nil {
		// resume: never is the way past a broken state: say so, go on.
		t.note(fmt.Sprintf("train: starting afresh (resume: never): the saved training state cannot be read (%v); it is replaced after the first epoch.", err))
		return nil
	}
	if meta == nil {
		return nil
	}
	st := &State{Meta: *meta}
	msg := fmt.Sprintf("train: starting afresh (resume: never): the saved training state (after epoch %d) is not resumed", meta.EpochsDone)
	why := t.Mismatch(st)
	if why == "" {
		t.note(msg + "; it was made with the same settings and is replaced after the first epoch.")
		return nil
	}
	msg += ": " + why + "."
	if ks, ok := t.Store.(KeepingStore); ok {
		where, err := ks.KeepAside(st)
		if err != nil {
			return fmt.Errorf("%s Keeping it aside failed: %w", msg, err)
		}
		t.note(msg + fmt.Sprintf(" It is kept in %s (rename that back to resume it).", where))
		return nil
	}
	t.note(msg + " It is replaced after the first epoch.")
	return nil
}

// ErrNonFiniteLoss is wrapped by the error that stops training on a NaN
// or infinite loss.
var ErrNonFiniteLoss = errors.New("non-finite loss")

// Run trains on train, validating on val after every epoch, and leaves
// the model holding the best epoch's weights. With a Store holding a
// compatible state it continues from the last completed epoch. A nil
// val (pretraining) means no validation and no early stopping: the
// last epoch is the best.
func (t *Trainer) Run(ctx context.Context, train, val Dataset) (*History, error) {
	cfg := t.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if train.Len() == 0 {
		return nil, errors.New("train: empty training set")
	}
	if val != nil && val.Len() == 0 {
		return nil, errors.New("train: empty validation set (needed for early stopping on AUROC)")
	}
	params := t.Model.Params()
	batchesPerEpoch := cfg.StepsPerEpoch(train.Len())

	if in, ok := t.Model.(Interruptible); ok {
		in.SetInterrupt(ctx.Err)
		defer in.SetInterrupt(nil)
	}
	if ls, ok := t.Store.(LockingStore); ok {
		unlock, err := ls.Lock()
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		defer unlock()
		fault.Point("train.locked")
	}
	hist := &History{}
	var best checkpoint.StateDict
	startEpoch, step, sinceBest := 0, 0, 0
	if t.Store != nil && t.Fresh {
		if err := t.setAsideForFresh(); err != nil {
			return nil, err
		}
	}
	if t.Store != nil && !t.Fresh {
		st, err := t.Store.Load()
		if err != nil {
			return nil, fmt.Errorf("train: resume: %w", err)
		}
		if why := t.Mismatch(st); why != "" {
			msg := fmt.Sprintf("train: the saved training state (after epoch %d) is not resumed: %s.", st.Meta.EpochsDone, why)
			if ks, ok := t.Store.(KeepingStore); ok {
				where, err := ks.KeepAside(st)
				if err != nil {
					return nil, fmt.Errorf("%s Keeping it aside failed: %w", msg, err)
				}
				msg += fmt.Sprintf(" It is kept in %s (rename that back to resume it); training starts at epoch 1.", where)
			} else {
				msg += " Training starts at epoch 1 and replaces it after the first epoch."
			}
			t.note(msg)
			st = nil
		}
		if st != nil {
			if err := loadParams(params, st.Model); err != nil {
				return nil, fmt.Errorf("train: resume model weights: %w", err)
			}
			if err := t.Optimizer.LoadStateDict(st.Optimizer, st.Meta.OptimizerMeta); err != nil {
				return nil, fmt.Errorf("train: resume optimizer state: %w", err)
			}
			hist = &st.Meta.History
			startEpoch, step, sinceBest = st.Meta.EpochsDone, st.Meta.Step, st.Meta.SinceBest
			best = st.Best
		}
	}

	for epoch := startEpoch; epoch < cfg.Epochs; epoch++ {
		if cfg.Patience > 0 && sinceBest >= cfg.Patience || cfg.MaxSteps > 0 && step >= cfg.MaxSteps {
			break
		}
		rec, err := t.trainEpoch(ctx, train, epoch, &step, batchesPerEpoch, params)
		if err != nil {
			return hist, err
		}
		if val == nil {
			hist.Epochs = append(hist.Epochs, rec)
			hist.BestEpoch, best = epoch+1, snapshot(params)
			if err := t.endEpoch(rec, epoch, step, sinceBest, hist, params, best); err != nil {
				return hist, err
			}
			continue
		}
		_, logits, labels, err := Predict(ctx, t.Model, val, t.evalBatch(), cfg.Workers, cfg.Ahead)
		if err != nil {
			return hist, fmt.Errorf("train: validate after epoch %d: %w", epoch+1, err)
		}
		m, err := metrics.Evaluate(logits, labels)
		if err != nil {
			return hist, fmt.Errorf("train: validation metrics after epoch %d: %w", epoch+1, err)
		}
		rec.ValLoss, rec.ValAUROC, rec.ValAccuracy, rec.ValF1 = m.Loss, m.AUROC, m.Accuracy, m.F1
		hist.Epochs = append(hist.Epochs, rec)
		if hist.BestEpoch == 0 || m.AUROC > hist.BestAUROC {
			hist.BestEpoch, hist.BestAUROC = epoch+1, m.AUROC
			best = snapshot(params)
			sinceBest = 0
		} else {
			sinceBest++
		}
		if err := t.endEpoch(rec, epoch, step, sinceBest, hist, params, best); err != nil {
			return hist, err
		}
	}
	switch {
	case cfg.Patience > 0 && sinceBest >= cfg.Patience:
		hist.Stopped = fmt.Sprintf("early stop: no better validation AUROC for %d epochs", sinceBest)
	case cfg.MaxSteps > 0 && step >= cfg.MaxSteps:
		hist.Stopped = fmt.Sprintf("reached max_steps %d", cfg.MaxSteps)
	default:
		hist.Stopped = fmt.Sprintf("completed %d epochs", len(hist.Epochs))
	}
	if err := loadParams(params, best); err != nil {
		return hist, fmt.Errorf("train: restore best epoch %d: %w", hist.BestEpoch, err)
	}
	return hist, nil
}

// endEpoch reports a finished epoch and saves the training state.
func (t *Trainer) endEpoch(rec Epoch, epoch, step, sinceBest int, hist *History, params []Param, best checkpoint.StateDict) error {
	if t.Hooks.OnEpoch != nil {
		t.Hooks.OnEpoch(rec)
	}
	if t.Store == nil {
		return nil
	}
	osd, ometa := t.Optimizer.StateDict()
	st := &State{
		Meta: StateMeta{Fingerprint: t.FingerprintValue(), Settings: t.Settings, EpochsDone: epoch + 1, Step: step, SinceBest: sinceBest,
			History: *hist, OptimizerMeta: ometa},
		Model: snapshot(params), Optimizer: osd, Best: best,
	}
	if err := t.Store.Save(st); err != nil {
		return fmt.Errorf("train: save state after epoch %d: %w", epoch+1, err)
	}
	return nil
}

func (t *Trainer) evalBatch() int {
	if t.Config.EvalBatchSize > 0 {
		return t.Config.EvalBatchSize
	}
	return t.Config.BatchSize
}

// trainEpoch runs one epoch (0-based) and returns its history row with
// the training fields filled.
func (t *Trainer) trainEpoch(ctx context.Context, data Dataset, epoch int, step *int, batches int, params []Param) (Epoch, error) {
	cfg := t.Config
	start := time.Now()
	order := EpochOrder(data.Len(), cfg.Seed, epoch, true)
	if cfg.DropLast {
		order = order[:len(order)/cfg.BatchSize*cfg.BatchSize]
	}
	if cfg.MaxSteps > 0 {
		order = order[:min(len(order), (cfg.MaxSteps-*step)*cfg.BatchSize)]
	}
	ld := NewLoader(ctx, data, order, cfg.BatchSize, cfg.Workers, cfg.Ahead, *step, cfg.Seed)
	defer ld.Close()
	var lossSum float64
	var seen int
	var lr float64
	for k := 1; ; k++ {
		if err := ctx.Err(); err != nil {
			return Epoch{}, fmt.Errorf("train: epoch %d: %w", epoch+1, err)
		}
		b, err := ld.Next()
		if err != nil {
			return Epoch{}, fmt.Errorf("train: epoch %d batch %d: %w", epoch+1, k, err)
		}
		if b == nil {
			break
		}
		obj, isObjective := t.Model.(ObjectiveModel)
		var loss float64
		var grad []float32
		if isObjective {
			if loss, err = obj.Objective(b); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d (batch %d, meme ids %v): %w", epoch+1, *step, k, b.IDs, err)
			}
		} else {
			if !b.Labelled() {
				return Epoch{}, fmt.Errorf("train: epoch %d batch %d: training example without a label (ids %v)", epoch+1, k, b.IDs)
			}
			logits, err := t.Model.Forward(b, true)
			if err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d forward: %w", epoch+1, *step, err)
			}
			if loss, grad, err = cfg.Loss.Compute(logits, b.Labels); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, *step, err)
			}
			// A full-size step takes seconds: stop before the backward
			// pass rather than after it.
			if err := ctx.Err(); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d (between forward and backward): %w", epoch+1, *step, err)
			}
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return Epoch{}, fmt.Errorf("train: %w %v at epoch %d, step %d (batch %d, meme ids %v); lower the learning rate or check the inputs",
				ErrNonFiniteLoss, loss, epoch+1, *step, k, b.IDs)
		}
		lr = t.Optimizer.LR()
		ibm, modelOK := t.Model.(InBackwardModel)
		ibo, optOK := t.Optimizer.(inBackwardOptimizer)
		switch {
		case isObjective:
			if err := t.Optimizer.Step(); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d (batch %d, meme ids %v): %w", epoch+1, *step, k, b.IDs, err)
			}
		case modelOK && optOK:
			if err := ibm.BackwardApply(grad, ibo.InBackward().Apply); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d (batch %d, meme ids %v): backward with update: %w", epoch+1, *step, k, b.IDs, err)
			}
		default:
			if err := t.Model.Backward(grad); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d backward: %w", epoch+1, *step, err)
			}
			if err := t.Optimizer.Step(); err != nil {
				return Epoch{}, fmt.Errorf("train: epoch %d step %d (batch %d, meme ids %v): %w", epoch+1, *step, k, b.IDs, err)
			}
		}
		for _, p := range params {
			p.Tensor.ZeroGrad()
		}
		lossSum += loss * float64(b.Size)
		seen += b.Size
		if t.Hooks.OnStep != nil {
			t.Hooks.OnStep(StepInfo{Epoch: epoch + 1, Step: *step, Batch: k, Batches: batches, Loss: loss, LR: lr, Examples: seen, ElapsedInEpoch: time.Since(start)})
		}
		*step++
	}
	secs := time.Since(start).Seconds()
	return Epoch{Epoch: epoch + 1, Steps: *step, TrainLoss: lossSum / float64(seen), LR: lr, Seconds: secs, MemesPerSec: float64(seen) / secs}, nil
}

// Predict runs the model in evaluation mode over data in order and
// returns the ids, the [N, 2] logits and the labels (batch.NoLabel where
// unknown).
func Predict(ctx context.Context, m Model, data Dataset, batchSize, workers, ahead int) (ids []string, logits []float32, labels []int, err error) {
	order := EpochOrder(data.Len(), 0, 0, false)
	var params []*tensor.Tensor
	for _, p := range m.Params() {
		params = append(params, p.Tensor)
	}
	ld := NewLoader(ctx, data, order, batchSize, workers, ahead, -1, 0)
	defer ld.Close()
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		b, err := ld.Next()
		if err != nil {
			return nil, nil, nil, err
		}
		if b == nil {
			break
		}
		// The model's parameters are constants here: an autograd model
		// records no graph (tensor.NoGrad is scoped to these tensors, so a
		// training running beside this prediction keeps recording).
		var out []float32
		tensor.NoGrad(params, func() { out, err = m.Forward(b, false) })
		if err != nil {
			return nil, nil, nil, fmt.Errorf("predict batch of %v: %w", b.IDs, err)
		}
		if len(out) != 2*b.Size {
			return nil, nil, nil, fmt.Errorf("model returned %d logits for a batch of %d, want [%d, 2]", len(out), b.Size, b.Size)
		}
		ids = append(ids, b.IDs...)
		logits = append(logits, out...)
		labels = append(labels, b.Labels...)
	}
	return ids, logits, labels, nil
}

// snapshot copies every parameter's values into a StateDict.
func snapshot(params []Param) checkpoint.StateDict {
	sd := make(checkpoint.StateDict, len(params))
	for _, p := range params {
		sd[p.Name] = &checkpoint.Array{Shape: append([]int(nil), p.Tensor.Shape...), Data: append([]float32(nil), p.Tensor.Data...)}
	}
	return sd
}

// loadParams copies sd into the parameters; every parameter must be
// present with its shape.
func loadParams(params []Param, sd checkpoint.StateDict) error {
	for _, p := range params {
		a, ok := sd[p.Name]
		if !ok {
			return fmt.Errorf("parameter %q missing from the saved weights", p.Name)
		}
		if !slices.Equal(a.Shape, p.Tensor.Shape) || len(a.Data) != len(p.Tensor.Data) {
			return fmt.Errorf("parameter %q: saved shape %v, model shape %v", p.Name, a.Shape, p.Tensor.Shape)
		}
		copy(p.Tensor.Data, a.Data)
	}
	return nil
}

// Snapshot returns a copy of the model's weights keyed by parameter name.
func Snapshot(m Model) checkpoint.StateDict { return snapshot(m.Params()) }

// LoadWeights copies sd into the model's parameters; every parameter
// must be present with its shape (extra keys are ignored).
func LoadWeights(m Model, sd checkpoint.StateDict) error { return loadParams(m.Params(), sd) }

package nodes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/batch"
	"mmc/ml/checkpoint"
	"mmc/ml/models"
	"mmc/ml/text"
	"mmc/ml/train"
	"mmc/progress"
)

// TrainParams is one training pipeline's parameter subtree
// (parameters_train.yml → <pipeline>.train).
type TrainParams struct {
	// TrainSplit and ValSplit name the meme folder's split files
	// ("train", "dev_seen").
	TrainSplit string        `yaml:"train_split"`
	ValSplit   string        `yaml:"val_split"`
	Model      models.Params `yaml:"model"`
	Data       DataParams    `yaml:"data"`
	Loop       train.Config  `yaml:"loop"`
	// StateDir keeps the per-epoch training state (weights, optimizer
	// moments, history) for resuming; empty disables saving.
	StateDir string `yaml:"state_dir"`
	// Resume is "auto" (continue from a compatible state in StateDir),
	// "never" (start afresh, overwriting it) or "require" (fail when
	// there is no compatible state).
	Resume string `yaml:"resume"`
}

// DataParams shapes the model inputs.
type DataParams struct {
	MaxSeqLength int `yaml:"max_seq_length"` // tokens incl. [CLS] and [SEP]; MMF: 128
	MaxFeatures  int `yaml:"max_features"`   // regions per image; MMF: 100
}

func (p TrainParams) validate() error {
	switch p.Resume {
	case "", "auto", "never", "require":
	default:
		return fmt.Errorf("train: resume %q, want auto, never or require", p.Resume)
	}
	if p.Resume == "require" && p.StateDir == "" {
		return fmt.Errorf("train: resume=require needs a state_dir")
	}
	if p.Data.MaxSeqLength < 0 || p.Data.MaxFeatures < 0 {
		return fmt.Errorf("train: data.max_seq_length %d and data.max_features %d must not be negative", p.Data.MaxSeqLength, p.Data.MaxFeatures)
	}
	return p.Loop.Validate()
}

// encodeTexts tokenises every meme's text with the embedded bert-base-uncased
// WordPiece tokenizer, framed and padded as MMF's bert_tokenizer does.
func encodeTexts(ms []memes.Meme, maxSeqLen int) ([]text.Encoding, error) {
	tok := text.Default()
	out := make([]text.Encoding, len(ms))
	for i, m := range ms {
		e, err := tok.Encode(m.Text, maxSeqLen)
		if err != nil {
			return nil, fmt.Errorf("meme %s: %w", m.ID, err)
		}
		out[i] = e
	}
	return out, nil
}

// newSource tokenises ms and pairs them with their region features.
func newSource(ms []memes.Meme, feats features.Reader, d DataParams, featDim int) (*batch.Source, error) {
	enc, err := encodeTexts(ms, d.MaxSeqLength)
	if err != nil {
		return nil, err
	}
	return &batch.Source{Memes: ms, Encodings: enc, Features: feats, MaxFeatures: d.MaxFeatures, FeatDim: featDim}, nil
}

// TrainModel trains the configured model on the folder's train split,
// validating on its validation split; see TrainSplits.
func TrainModel(ctx context.Context, p TrainParams, folder memes.Folder, feats features.Reader) (models.Trained, train.History, error) {
	tr, err := folder.Memes(p.TrainSplit)
	if err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	val, err := folder.Memes(p.ValSplit)
	if err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	return TrainSplits(ctx, p, tr, val, feats)
}

// TrainSplits trains the configured model on trainSet, validating on
// valSet after every epoch with early stopping on validation AUROC, and
// returns the best epoch's weights and the training history. With a
// state_dir it saves the state after every epoch and, unless resume is
// "never", continues a run that was interrupted.
func TrainSplits(ctx context.Context, p TrainParams, trainSet, valSet []memes.Meme, feats features.Reader) (models.Trained, train.History, error) {
	if err := p.validate(); err != nil {
		return models.Trained{}, train.History{}, err
	}
	if err := models.CheckInitWeights(p.Model); err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	if len(trainSet) == 0 || len(valSet) == 0 {
		return models.Trained{}, train.History{}, fmt.Errorf("train: %d training and %d validation memes; both splits are needed", len(trainSet), len(valSet))
	}
	featDim, err := featureWidth(feats, trainSet[0])
	if err != nil {
		return models.Trained{}, train.History{}, err
	}
	trSrc, err := newSource(trainSet, feats, p.Data, featDim)
	if err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train split: %w", err)
	}
	valSrc, err := newSource(valSet, feats, p.Data, featDim)
	if err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("validation split: %w", err)
	}
	mp := p.Model
	mp.FeatDim = featDim
	mp.Extractor = extractorOf(feats)
	model, err := models.Build(mp, p.Loop.Seed)
	if err != nil {
		return models.Trained{}, train.History{}, err
	}
	if msg, err := models.Initialise(model, mp); err != nil {
		return models.Trained{}, train.History{}, err
	} else if msg != "" {
		progress.Logf("%s", msg)
	}
	opt, err := train.NewOptimizer(model, p.Loop, len(trainSet))
	if err != nil {
		return models.Trained{}, train.History{}, err
	}
	t := &train.Trainer{Model: model, Optimizer: opt, Config: p.Loop, Settings: trainSettings(mp, p, trainSet, valSet)}
	if err := useStateDir(t, p.StateDir, p.Resume); err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	bar := progress.NewEpochs(os.Stderr, p.Loop.Epochs, p.Loop.StepsPerEpoch(len(trainSet)))
	t.Hooks = train.Hooks{OnStep: showStep(bar), OnEpoch: func(e train.Epoch) {
		showEpoch(bar, e)
		if testHookEpoch != nil {
			testHookEpoch(ctx, e)
		}
	}, OnNote: func(msg string) { progress.Logf("%s", msg) }}
	hist, err := t.Run(ctx, trSrc, valSrc)
	bar.Finish()
	if err != nil {
		return models.Trained{}, train.History{}, err
	}
	cfg, err := json.Marshal(mp)
	if err != nil {
		return models.Trained{}, train.History{}, fmt.Errorf("train: encode model config: %w", err)
	}
	best := hist.Epochs[hist.BestEpoch-1]
	tm := models.Trained{
		Weights: train.Snapshot(model),
		Sidecar: checkpoint.Sidecar{
			Model:  mp.Kind,
			Step:   best.Steps,
			Epoch:  best.Epoch,
			Config: cfg,
			Metrics: map[string]float64{
				"val_auroc": best.ValAUROC, "val_accuracy": best.ValAccuracy, "val_f1": best.ValF1, "val_loss": best.ValLoss,
			},
		},
	}
	return tm, *hist, nil
}

// useStateDir sets up resuming from dir (no state when empty) by resume
// ("auto", "never" or "require": fail unless dir holds a state of this
// model, data and settings).
func useStateDir(t *train.Trainer, dir, resume string) error {
	if dir == "" {
		return nil
	}
	store := train.DirStore{Dir: dir}
	switch resume {
	case "never":
		t.Fresh = true
	case "require":
		st, err := store.Load()
		if err != nil {
			return fmt.Errorf("resume from %s: %w", dir, err)
		}
		if st == nil {
			return fmt.Errorf("resume=require but %s holds no training state", dir)
		}
		if why := t.Mismatch(st); why != "" {
			return fmt.Errorf("resume=require but the state in %s is not of this model, data and settings: %s", dir, why)
		}
	}
	t.Store = store
	return nil
}

// showStep draws a training step on the bar.
func showStep(bar *progress.Epochs) func(train.StepInfo) {
	return func(s train.StepInfo) {
		bar.Step(progress.Step{Epoch: s.Epoch, Batch: s.Batch, Batches: s.Batches, Loss: s.Loss, LR: s.LR,
			Examples: s.Examples, ElapsedInEpoch: s.ElapsedInEpoch})
	}
}

// showEpoch ends an epoch's bar with its validation summary.
func showEpoch(bar *progress.Epochs, e train.Epoch) {
	bar.EndEpoch(e.Epoch, fmt.Sprintf("train loss %.4f, val loss %.4f, val AUROC %.4f, acc %.4f, F1 %.4f, %.1f memes/s, %.1fs",
		e.TrainLoss, e.ValLoss, e.ValAUROC, e.ValAccuracy, e.ValF1, e.MemesPerSec, e.Seconds))
}

// testHookEpoch, when set by a test, runs after each epoch's
// validation (before its state is saved).
var testHookEpoch func(ctx context.Context, e train.Epoch)

// featureWidth reads the region feature width from the first meme's
// features (0 when the model gets no features).
func featureWidth(feats features.Reader, m memes.Meme) (int, error) {
	if feats == nil {
		return 0, nil
	}
	rec, err := feats.Get(features.FeaturePath(m.Img))
	if err != nil {
		return 0, fmt.Errorf("read the feature width from meme %s: %w", m.ID, err)
	}
	return rec.Dim, nil
}

// trainSettings is what a saved training state must match: the model,
// every training setting that can change the results (not the loader's
// workers and look-ahead, nor the evaluation batch size) and the two
// splits' memes (a hash each).
func trainSettings(mp models.Params, p TrainParams, trainSet, valSet []memes.Meme) map[string]string {
	s := p.Loop.Settings("loop")
	train.Flatten(s, "model", mp)
	s["data.max_seq_length"] = fmt.Sprint(p.Data.MaxSeqLength)
	s["data.max_features"] = fmt.Sprint(p.Data.MaxFeatures)
	s["data.train_memes"] = memesHash(trainSet, true)
	s["data.val_memes"] = memesHash(valSet, true)
	return s
}

// memesHash identifies a split's memes: ids, captions and (with labels)
// labels, in order.
func memesHash(ms []memes.Meme, labels bool) string {
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%s\x00%s\x00", m.ID, m.Text)
		if labels && m.Label != nil {
			fmt.Fprintf(h, "%d", *m.Label)
		}
	}
	return fmt.Sprintf("%d memes, sha256 %s", len(ms), hex.EncodeToString(h.Sum(nil))[:16])
}

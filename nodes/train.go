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
	"mmc/ml/text"
	"mmc/ml/train"
)

// TrainParams is one training pipeline's parameter subtree
// (parameters_train.yml → <pipeline>.train).
type TrainParams struct {
	// TrainSplit and ValSplit name the meme folder's split files
	// ("train", "dev_seen").
	TrainSplit string       `yaml:"train_split"`
	ValSplit   string       `yaml:"val_split"`
	Model      ModelParams  `yaml:"model"`
	Data       DataParams   `yaml:"data"`
	Loop       train.Config `yaml:"loop"`
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

// TrainedModel is a model's weights with the sidecar describing them;
// the sidecar's Config is the ModelParams that rebuild the model.
type TrainedModel struct {
	Weights checkpoint.StateDict
	Sidecar checkpoint.Sidecar
}

// Params decodes the sidecar's model description.
func (tm TrainedModel) Params() (ModelParams, error) {
	var mp ModelParams
	if len(tm.Sidecar.Config) == 0 {
		return mp, fmt.Errorf("checkpoint sidecar (model %q) has no config to rebuild the model from", tm.Sidecar.Model)
	}
	if err := json.Unmarshal(tm.Sidecar.Config, &mp); err != nil {
		return mp, fmt.Errorf("checkpoint sidecar config: %w", err)
	}
	return mp, nil
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
func TrainModel(ctx context.Context, p TrainParams, folder MemeFolder, feats features.Reader) (TrainedModel, train.History, error) {
	tr, err := splitOf(folder, p.TrainSplit)
	if err != nil {
		return TrainedModel{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	val, err := splitOf(folder, p.ValSplit)
	if err != nil {
		return TrainedModel{}, train.History{}, fmt.Errorf("train: %w", err)
	}
	return TrainSplits(ctx, p, tr, val, feats)
}

// splitOf returns the memes of one split of the folder.
func splitOf(f MemeFolder, name string) ([]memes.Meme, error) {
	var have []string
	for _, s := range f.Splits {
		if s.Name == name {
			if len(s.BadLines) > 0 {
				return nil, fmt.Errorf("split %q of %s has %d unreadable lines, first %s", name, f.Root, len(s.BadLines), s.BadLines[0])
			}
			return s.Memes, nil
		}
		have = append(have, s.Name)
	}
	return nil, fmt.Errorf("split %q not found in %s (have %v); the split file is %s/%s.jsonl", name, f.Root, have, f.Root, name)
}

// TrainSplits trains the configured model on trainSet, validating on
// valSet after every epoch with early stopping on validation AUROC, and
// returns the best epoch's weights and the training history. With a
// state_dir it saves the state after every epoch and, unless resume is
// "never", continues a run that was interrupted.
func TrainSplits(ctx context.Context, p TrainParams, trainSet, valSet []memes.Meme, feats features.Reader) (TrainedModel, train.History, error) {
	if err := p.validate(); err != nil {
		return TrainedModel{}, train.History{}, err
	}
	if len(trainSet) == 0 || len(valSet) == 0 {
		return TrainedModel{}, train.History{}, fmt.Errorf("train: %d training and %d validation memes; both splits are needed", len(trainSet), len(valSet))
	}
	featDim, err := featureWidth(feats, trainSet[0])
	if err != nil {
		return TrainedModel{}, train.History{}, err
	}
	trSrc, err := newSource(trainSet, feats, p.Data, featDim)
	if err != nil {
		return TrainedModel{}, train.History{}, fmt.Errorf("train split: %w", err)
	}
	valSrc, err := newSource(valSet, feats, p.Data, featDim)
	if err != nil {
		return TrainedModel{}, train.History{}, fmt.Errorf("validation split: %w", err)
	}
	mp := p.Model
	mp.FeatDim = featDim
	model, err := BuildModel(mp, p.Loop.Seed)
	if err != nil {
		return TrainedModel{}, train.History{}, err
	}
	if msg, err := initialise(model, mp); err != nil {
		return TrainedModel{}, train.History{}, err
	} else if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	opt, err := train.NewOptimizer(model, p.Loop, len(trainSet))
	if err != nil {
		return TrainedModel{}, train.History{}, err
	}
	t := &train.Trainer{Model: model, Optimizer: opt, Config: p.Loop, Fingerprint: trainFingerprint(mp, p, trainSet, valSet)}
	if p.StateDir != "" {
		store := train.DirStore{Dir: p.StateDir}
		switch p.Resume {
		case "never":
			t.Fresh = true
		case "require":
			st, err := store.Load()
			if err != nil {
				return TrainedModel{}, train.History{}, fmt.Errorf("train: resume from %s: %w", p.StateDir, err)
			}
			if st == nil || st.Meta.Fingerprint != t.Fingerprint {
				return TrainedModel{}, train.History{}, fmt.Errorf("train: resume=require but %s holds no state of this model, data and settings", p.StateDir)
			}
		}
		t.Store = store
	}
	bar := newEpochBar(os.Stderr, p.Loop.Epochs, p.Loop.StepsPerEpoch(len(trainSet)))
	t.Hooks = train.Hooks{OnStep: bar.step, OnEpoch: func(e train.Epoch) {
		bar.epoch(e)
		if testHookEpoch != nil {
			testHookEpoch(ctx, e)
		}
	}}
	hist, err := t.Run(ctx, trSrc, valSrc)
	bar.finish()
	if err != nil {
		return TrainedModel{}, train.History{}, err
	}
	cfg, err := json.Marshal(mp)
	if err != nil {
		return TrainedModel{}, train.History{}, fmt.Errorf("train: encode model config: %w", err)
	}
	best := hist.Epochs[hist.BestEpoch-1]
	tm := TrainedModel{
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

// trainFingerprint identifies what a saved training state must match: the
// model, every training setting and the two splits' ids.
func trainFingerprint(mp ModelParams, p TrainParams, trainSet, valSet []memes.Meme) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.Encode(mp)
	enc.Encode(p.Loop)
	enc.Encode(p.Data)
	for _, split := range [][]memes.Meme{trainSet, valSet} {
		for _, m := range split {
			fmt.Fprintf(h, "%s\x00%s\x00", m.ID, m.Text)
			if m.Label != nil {
				fmt.Fprintf(h, "%d", *m.Label)
			}
		}
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil))
}

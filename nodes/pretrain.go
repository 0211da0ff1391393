package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/checkpoint"
	"mmc/ml/models"
	"mmc/ml/text"
	"mmc/ml/train"
	"mmc/ml/vilbert"
	"mmc/progress"
)

// PretrainParams is the vilbert_pretrain parameter subtree
// (parameters_pretrain.yml → vilbert_pretrain.pretrain).
type PretrainParams struct {
	// Split names the meme folder's split whose captions and regions are
	// used; labels are ignored.
	Split string `yaml:"split"`
	// Model must be kind vilbert; its sizes are those of the fine-tuning
	// pipeline that will load the checkpoint (the head is not trained).
	Model models.Params `yaml:"model"`
	Data  DataParams    `yaml:"data"`
	Mask  MaskParams    `yaml:"mask"`
	// Steps is the number of optimizer updates; BatchSize the memes per
	// update (an epoch's short last batch is left out: the alignment
	// negatives come from the batch).
	Steps       int     `yaml:"steps"`
	BatchSize   int     `yaml:"batch_size"`
	LR          float64 `yaml:"lr"`
	WarmupSteps int     `yaml:"warmup_steps"`
	WeightDecay float64 `yaml:"weight_decay"`
	Seed        uint64  `yaml:"seed"`
	// Workers is the number of loader goroutines, Ahead the batches they
	// may prepare ahead (0: 1 and 2).
	Workers int `yaml:"workers"`
	Ahead   int `yaml:"ahead"`
	// LogEvery prints the mean losses of that many steps to stderr (0: never).
	LogEvery int `yaml:"log_every"`
	// StateDir keeps the per-epoch training state for resuming (empty:
	// none); Resume is auto, never or require, as for training.
	StateDir string `yaml:"state_dir"`
	Resume   string `yaml:"resume"`
}

// MaskParams are the corruption probabilities (BERT / vilbert-multi-task:
// 0.15, 0.15, 0.5).
type MaskParams struct {
	TokenProb    float32 `yaml:"token_prob"`
	RegionProb   float32 `yaml:"region_prob"`
	NegativeProb float32 `yaml:"negative_prob"`
}

// PretrainStep is the losses of one update.
type PretrainStep struct {
	Step      int     `json:"step"`
	LR        float64 `json:"lr"`
	Loss      float64 `json:"loss"`
	MLM       float64 `json:"mlm"`
	Region    float64 `json:"region"`
	Alignment float64 `json:"alignment"`
}

// PretrainHistory is the losses of every update this run made, in
// order (a resumed run lists the updates after the resume point), and
// the loop's per-epoch history.
type PretrainHistory struct {
	Steps []PretrainStep `json:"steps"`
	Loop  train.History  `json:"loop"`
}

func (p PretrainParams) validate() error {
	switch {
	case p.Model.Kind != models.KindViLBERT:
		return fmt.Errorf("pretrain: model.kind %q, only %q has pretraining heads", p.Model.Kind, models.KindViLBERT)
	case p.Steps <= 0 || p.BatchSize <= 1:
		return fmt.Errorf("pretrain: steps %d must be positive and batch_size %d at least 2 (alignment negatives come from the batch)", p.Steps, p.BatchSize)
	case p.LR <= 0 || p.WarmupSteps < 0 || p.WeightDecay < 0:
		return fmt.Errorf("pretrain: lr %g must be positive, warmup_steps %d and weight_decay %g not negative", p.LR, p.WarmupSteps, p.WeightDecay)
	case p.Data.MaxSeqLength <= 0 || p.Data.MaxFeatures <= 0:
		return fmt.Errorf("pretrain: data.max_seq_length %d and data.max_features %d must be positive", p.Data.MaxSeqLength, p.Data.MaxFeatures)
	case p.Model.ViLBERT.RegionConvention == vilbert.RegionsVMT:
		return fmt.Errorf("pretrain: region_convention %q: masked region prediction runs on the regions as read (mmf)", vilbert.RegionsVMT)
	}
	switch p.Resume {
	case "", "auto", "never", "require":
	default:
		return fmt.Errorf("pretrain: resume %q, want auto, never or require", p.Resume)
	}
	for _, q := range []struct {
		name string
		v    float32
	}{{"token_prob", p.Mask.TokenProb}, {"region_prob", p.Mask.RegionProb}, {"negative_prob", p.Mask.NegativeProb}} {
		if q.v < 0 || q.v > 1 {
			return fmt.Errorf("pretrain: mask.%s %g outside [0, 1]", q.name, q.v)
		}
	}
	return nil
}

// loop is the ml/train configuration of a pretraining run over n memes:
// as many epochs as the steps need, stopped at Steps.
func (p PretrainParams) loop(n int) train.Config {
	bs := min(p.BatchSize, n)
	c := train.Config{
		BatchSize: bs, Seed: p.Seed, MaxSteps: p.Steps, DropLast: true,
		Workers: max(p.Workers, 1), Ahead: max(p.Ahead, 2),
		Optimizer: train.OptimConfig{LR: p.LR, WeightDecay: p.WeightDecay, WarmupSteps: p.WarmupSteps, Schedule: "linear"},
		Loss:      train.LossConfig{Kind: train.LossCE}, // unused: the objective is the model's
	}
	c.Epochs = (p.Steps + c.StepsPerEpoch(n) - 1) / c.StepsPerEpoch(n)
	return c
}

// PretrainViLBERT pretrains a fresh ViLBERT with vilbert-multi-task's
// objectives (masked tokens, masked region features, image–text
// alignment) on one split's captions and region features, on ml/train's
// loop (background loader, NaN guard, resume from state_dir), and
// returns the weights ("model.bert.*" and "model.cls.*", no classifier:
// a fine-tuning pipeline's init_weights loads them as pretrained
// weights) with the per-step losses.
func PretrainViLBERT(ctx context.Context, p PretrainParams, folder memes.Folder, feats features.Reader) (models.Trained, PretrainHistory, error) {
	var hist PretrainHistory
	if err := p.validate(); err != nil {
		return models.Trained{}, hist, err
	}
	ms, err := folder.Memes(p.Split)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	if len(ms) < 2 {
		return models.Trained{}, hist, fmt.Errorf("pretrain: split %q has %d memes, alignment negatives need two or more", p.Split, len(ms))
	}
	featDim, err := featureWidth(feats, ms[0])
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	mp := p.Model
	mp.FeatDim = featDim
	if mp.ViLBERT.VFeatureSize != featDim {
		return models.Trained{}, hist, fmt.Errorf("pretrain: v_feature_size %d but the region features are %d wide", mp.ViLBERT.VFeatureSize, featDim)
	}
	src, err := newSource(ms, feats, p.Data, featDim)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain split %q: %w", p.Split, err)
	}
	tok := text.Default()
	mo := vilbert.MaskOptions{TokenProb: p.Mask.TokenProb, RegionProb: p.Mask.RegionProb, NegativeProb: p.Mask.NegativeProb,
		ClsID: tok.ClsID(), SepID: tok.SepID(), PadID: tok.PadID(), MaskID: tok.MaskID(), VocabSize: mp.ViLBERT.VocabSize}
	model, err := models.NewViLBERTPretraining(mp.ViLBERT.Config, mo, p.Seed)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	cfg := p.loop(len(ms))
	opt, err := train.NewOptimizer(model, cfg, len(ms))
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	t := &train.Trainer{Model: model, Optimizer: opt, Config: cfg, Settings: pretrainSettings(mp, p, ms)}
	t.Hooks.OnNote = func(msg string) { progress.Logf("%s", msg) }
	if err := useStateDir(t, p.StateDir, p.Resume); err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	var window PretrainStep
	t.Hooks.OnStep = func(s train.StepInfo) {
		l := model.Last
		row := PretrainStep{Step: s.Step + 1, LR: s.LR, Loss: float64(l.Total), MLM: float64(l.MLM),
			Region: float64(l.Region), Alignment: float64(l.Alignment)}
		hist.Steps = append(hist.Steps, row)
		window.Loss, window.MLM, window.Region, window.Alignment = window.Loss+row.Loss, window.MLM+row.MLM, window.Region+row.Region, window.Alignment+row.Alignment
		if p.LogEvery > 0 && row.Step%p.LogEvery == 0 {
			n := float64(p.LogEvery)
			progress.Logf("pretrain step %d/%d: loss %.4f (mlm %.4f, region %.4f, alignment %.4f), lr %.3g",
				row.Step, p.Steps, window.Loss/n, window.MLM/n, window.Region/n, window.Alignment/n, s.LR)
			window = PretrainStep{}
		}
	}
	loop, err := t.Run(ctx, src, nil)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	hist.Loop = *loop
	cfgJSON, err := json.Marshal(mp)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: encode model config: %w", err)
	}
	metrics := map[string]float64{}
	if n := len(hist.Steps); n > 0 {
		last := hist.Steps[n-1]
		metrics = map[string]float64{"loss": last.Loss, "mlm_loss": last.MLM, "region_loss": last.Region, "alignment_loss": last.Alignment}
	}
	tm := models.Trained{
		Weights: model.P.StateDict(),
		Sidecar: checkpoint.Sidecar{Model: models.KindViLBERT, Step: p.Steps, Config: cfgJSON, Metrics: metrics},
	}
	return tm, hist, nil
}

// pretrainSettings is what a saved pretraining state must match: the
// model, every pretraining setting but logging and loader parallelism,
// and the split's memes.
func pretrainSettings(mp models.Params, p PretrainParams, ms []memes.Meme) map[string]string {
	s := map[string]string{}
	train.Flatten(s, "model", mp)
	q := p
	q.Model = models.Params{}
	q.LogEvery, q.Workers, q.Ahead, q.StateDir, q.Resume = 0, 0, 0, "", ""
	train.Flatten(s, "pretrain", q)
	for k := range s {
		for _, drop := range []string{"LogEvery", "Workers", "Ahead", "StateDir", "Resume", "Model"} {
			if k == "pretrain."+drop || strings.HasPrefix(k, "pretrain."+drop+".") {
				delete(s, k)
			}
		}
	}
	s["data.memes"] = memesHash(ms, false)
	return s
}

package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/batch"
	"mmc/ml/checkpoint"
	"mmc/ml/models"
	"mmc/ml/optim"
	"mmc/ml/tensor"
	"mmc/ml/text"
	"mmc/ml/vilbert"
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
	// update.
	Steps       int     `yaml:"steps"`
	BatchSize   int     `yaml:"batch_size"`
	LR          float64 `yaml:"lr"`
	WarmupSteps int     `yaml:"warmup_steps"`
	WeightDecay float64 `yaml:"weight_decay"`
	Seed        uint64  `yaml:"seed"`
	// LogEvery prints the mean losses of that many steps to stderr (0: never).
	LogEvery int `yaml:"log_every"`
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

// PretrainHistory is every update's losses, in order.
type PretrainHistory struct {
	Steps []PretrainStep `json:"steps"`
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

// PretrainViLBERT pretrains a fresh ViLBERT with vilbert-multi-task's
// objectives (masked tokens, masked region features, image–text
// alignment) on one split's captions and region features, and returns
// the weights ("model.bert.*" and "model.cls.*", no classifier: a
// fine-tuning pipeline's init_weights loads them as pretrained weights)
// with the per-step losses.
func PretrainViLBERT(ctx context.Context, p PretrainParams, folder memes.Folder, feats features.Reader) (models.Trained, PretrainHistory, error) {
	return pretrain(ctx, p, folder, feats, os.Stderr)
}

func pretrain(ctx context.Context, p PretrainParams, folder memes.Folder, feats features.Reader, log io.Writer) (models.Trained, PretrainHistory, error) {
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
	m, err := vilbert.New(mp.ViLBERT.Config, p.Seed)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
	}
	pt := vilbert.NewPretrainer(m, p.Seed+1)
	var named []optim.Named
	for _, q := range pt.Parameters() {
		named = append(named, optim.Named{Name: q.Name, Param: q.Tensor})
	}
	opt := optim.NewAdamW(optim.SplitDecay(named, p.WeightDecay),
		optim.AdamWConfig{LR: p.LR, Schedule: optim.LinearWarmupDecay(p.WarmupSteps, p.Steps)})
	tok := text.Default()
	mo := vilbert.MaskOptions{TokenProb: p.Mask.TokenProb, RegionProb: p.Mask.RegionProb, NegativeProb: p.Mask.NegativeProb,
		ClsID: tok.ClsID(), SepID: tok.SepID(), PadID: tok.PadID(), MaskID: tok.MaskID(), VocabSize: mp.ViLBERT.VocabSize}

	order := make([]int, len(ms))
	shuffle := tensor.NewRNG(p.Seed ^ 0x5eed)
	pos := len(order)
	bs := min(p.BatchSize, len(ms))
	var window PretrainStep
	for step := 0; step < p.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return models.Trained{}, hist, fmt.Errorf("pretrain: stopped at step %d: %w", step, err)
		}
		if pos+bs > len(order) { // a new epoch: reshuffle, drop the short tail
			for i := range order {
				order[i] = i
			}
			for i := len(order) - 1; i > 0; i-- {
				j := int(shuffle.Uint64() % uint64(i+1))
				order[i], order[j] = order[j], order[i]
			}
			pos = 0
		}
		exs := make([]*batch.Example, bs)
		for k := range exs {
			if exs[k], err = src.Example(order[pos+k]); err != nil {
				return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
			}
		}
		pos += bs
		b, err := batch.Collate(exs)
		if err != nil {
			return models.Trained{}, hist, fmt.Errorf("pretrain: %w", err)
		}
		rng := tensor.NewRNG(p.Seed*1_000_003 + uint64(step))
		pb, err := vilbert.MaskBatch(b, mo, rng)
		if err != nil {
			return models.Trained{}, hist, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		opt.ZeroGrad()
		loss, err := pt.Step(pb, true, true, rng)
		if err != nil {
			return models.Trained{}, hist, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		lr := opt.LR()
		if err := opt.Step(); err != nil {
			return models.Trained{}, hist, fmt.Errorf("pretrain step %d: %w", step, err)
		}
		s := PretrainStep{Step: step + 1, LR: lr, Loss: float64(loss.Total), MLM: float64(loss.MLM),
			Region: float64(loss.Region), Alignment: float64(loss.Alignment)}
		hist.Steps = append(hist.Steps, s)
		window.Loss, window.MLM, window.Region, window.Alignment = window.Loss+s.Loss, window.MLM+s.MLM, window.Region+s.Region, window.Alignment+s.Alignment
		if p.LogEvery > 0 && (step+1)%p.LogEvery == 0 {
			n := float64(p.LogEvery)
			fmt.Fprintf(log, "pretrain step %d/%d: loss %.4f (mlm %.4f, region %.4f, alignment %.4f), lr %.3g\n",
				step+1, p.Steps, window.Loss/n, window.MLM/n, window.Region/n, window.Alignment/n, lr)
			window = PretrainStep{}
		}
	}
	cfg, err := json.Marshal(mp)
	if err != nil {
		return models.Trained{}, hist, fmt.Errorf("pretrain: encode model config: %w", err)
	}
	last := hist.Steps[len(hist.Steps)-1]
	tm := models.Trained{
		Weights: pt.StateDict(),
		Sidecar: checkpoint.Sidecar{Model: models.KindViLBERT, Step: p.Steps, Config: cfg, Metrics: map[string]float64{
			"loss": last.Loss, "mlm_loss": last.MLM, "region_loss": last.Region, "alignment_loss": last.Alignment,
		}},
	}
	return tm, hist, nil
}

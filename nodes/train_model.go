package nodes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mmc/ml/batch"
	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
	"mmc/ml/tensor"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// Model kinds accepted by ModelParams.Kind.
const (
	ModelPooledLinear = "pooled_linear"
	ModelViLBERT      = "vilbert"
	ModelTextBERT     = "text_bert"
)

// ModelParams selects and sizes the classifier (…→ model).
type ModelParams struct {
	// Kind is the architecture: "vilbert" (ml/vilbert, sized by
	// ViLBERT), "text_bert" (BERT on the caption alone, the paper's Text
	// BERT baseline, sized by TextBERT) or "pooled_linear" (logistic
	// regression on pooled region features and a hashed bag of words;
	// with one modality switched off it is a unimodal baseline).
	Kind         string               `yaml:"kind" json:"kind"`
	PooledLinear PooledLinearParams   `yaml:"pooled_linear" json:"pooled_linear"`
	ViLBERT      vilbert.Config       `yaml:"vilbert" json:"vilbert"`
	TextBERT     train.TextBERTConfig `yaml:"text_bert" json:"text_bert"`
	// InitWeights is a checkpoint to start ViLBERT from (the Conceptual
	// Captions weights, a synthetic pretraining run, bert-base-uncased);
	// the classifier is freshly initialised. Used when the file exists;
	// empty means train from scratch.
	InitWeights string `yaml:"init_weights" json:"init_weights"`
	// FeatDim is the region feature width, filled from the data at
	// training time.
	FeatDim int `yaml:"-" json:"feat_dim"`
}

// PooledLinearParams configures the pooled linear model.
type PooledLinearParams struct {
	UseText     bool `yaml:"use_text" json:"use_text"`
	UseImage    bool `yaml:"use_image" json:"use_image"`
	TextBuckets int  `yaml:"text_buckets" json:"text_buckets"`
}

// BuildModel constructs the model mp describes, initialised from seed.
func BuildModel(mp ModelParams, seed uint64) (train.Model, error) {
	switch mp.Kind {
	case ModelPooledLinear:
		pl := mp.PooledLinear
		m, err := train.NewPooledLinear(pl.UseText, pl.UseImage, pl.TextBuckets, mp.FeatDim, seed)
		if err != nil {
			return nil, err
		}
		return train.Autograd(m), nil
	case ModelTextBERT:
		m, err := train.NewTextBERT(mp.TextBERT, seed)
		if err != nil {
			return nil, err
		}
		return &textBERTModel{Model: train.Autograd(m), net: m}, nil
	case ModelViLBERT:
		c := mp.ViLBERT
		if mp.FeatDim > 0 && c.VFeatureSize != mp.FeatDim {
			return nil, fmt.Errorf("vilbert: v_feature_size %d but the region features are %d wide", c.VFeatureSize, mp.FeatDim)
		}
		m, err := vilbert.New(c, seed)
		if err != nil {
			return nil, err
		}
		return &vilbertModel{m: m}, nil
	}
	return nil, fmt.Errorf("model kind %q unknown (want %q, %q or %q)", mp.Kind, ModelViLBERT, ModelTextBERT, ModelPooledLinear)
}

// initialise loads mp.InitWeights into a freshly built model when the
// file exists; it returns a one-line report of what was loaded.
func initialise(m train.Model, mp ModelParams) (string, error) {
	if mp.InitWeights == "" {
		return "", nil
	}
	if _, err := os.Stat(mp.InitWeights); errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("init_weights %s not found: training from scratch (place the Conceptual Captions checkpoint or bert-base-uncased there, or run vilbert_pretrain)", mp.InitWeights), nil
	}
	sd, err := readWeights(mp.InitWeights)
	if err != nil {
		return "", err
	}
	if tb, ok := m.(*textBERTModel); ok {
		return loadTextBERT(tb.net, sd, mp.InitWeights)
	}
	vm, ok := m.(*vilbertModel)
	if !ok {
		return "", fmt.Errorf("init_weights is supported for vilbert and text_bert models, not %q", mp.Kind)
	}
	rep, err := vm.m.LoadStateDict(sd, vilbert.LoadOptions{SkipClassifier: true})
	if err != nil {
		return "", fmt.Errorf("init_weights %s: %w", mp.InitWeights, err)
	}
	if len(rep.Missing) > 0 {
		return "", fmt.Errorf("init_weights %s: %d model keys missing (first %q)", mp.InitWeights, len(rep.Missing), rep.Missing[0])
	}
	return fmt.Sprintf("init_weights %s: %s", mp.InitWeights, rep), nil
}

// readWeights reads a weights file by its extension.
func readWeights(path string) (checkpoint.StateDict, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		sd, _, err := checkpoint.LoadSafetensors(path)
		return sd, err
	case ".bin", ".pth", ".pt":
		// MMF checkpoints hold configs and optimizer objects beside the
		// weights; Lenient keeps them as inert data.
		return pytorch.Load(path, &pytorch.Options{Lenient: true})
	}
	return nil, fmt.Errorf("weights %s: unsupported file type (want .safetensors, .bin, .pth or .pt)", path)
}

// textBERTModel is TextBERT behind the autograd adapter, kept typed for
// weight loading.
type textBERTModel struct {
	train.Model
	net *train.TextBERT
}

// loadTextBERT copies a BERT checkpoint (Hugging Face layout, with or
// without the "bert." prefix) into the encoder; the classifier keeps its
// fresh initialisation. Every encoder parameter must be present.
func loadTextBERT(m *train.TextBERT, sd checkpoint.StateDict, path string) (string, error) {
	loaded := 0
	for _, p := range m.Params() {
		if strings.HasPrefix(p.Name, "classifier.") {
			continue
		}
		a, ok := sd[p.Name]
		if !ok {
			a, ok = sd[strings.TrimPrefix(p.Name, "bert.")]
		}
		if !ok {
			return "", fmt.Errorf("init_weights %s: no tensor %q (nor without the bert. prefix)", path, p.Name)
		}
		if len(a.Data) != len(p.Tensor.Data) {
			return "", fmt.Errorf("init_weights %s: %q has shape %v, model %v", path, p.Name, a.Shape, p.Tensor.Shape)
		}
		copy(p.Tensor.Data, a.Data)
		loaded++
	}
	return fmt.Sprintf("init_weights %s: %d BERT tensors loaded, classifier initialised", path, loaded), nil
}

// vilbertModel adapts *vilbert.Model to train.Model. Dropout draws from
// a generator seeded by the batch, so resumed runs repeat it exactly.
type vilbertModel struct {
	m      *vilbert.Model
	logits []float32
}

func (v *vilbertModel) Forward(b *batch.Batch, train bool) ([]float32, error) {
	var rng *tensor.RNG
	if train {
		rng = tensor.NewRNG(b.Seed)
	}
	out, err := v.m.Forward(vilbert.FromBatch(b), train, rng)
	if err != nil {
		return nil, err
	}
	v.logits = append(v.logits[:0], out.Logits...)
	return v.logits, nil
}

func (v *vilbertModel) Backward(dlogits []float32) error { return v.m.Backward(dlogits) }

// BackwardApply lets the training loop run the optimizer update inside
// the backward pass, so full-size training holds no per-parameter
// gradients (about 0.9 GB less; see vilbert.Model.BackwardApply).
func (v *vilbertModel) BackwardApply(dlogits []float32, apply func(*tensor.Tensor) error) error {
	return v.m.BackwardApply(dlogits, apply)
}

func (v *vilbertModel) Params() []train.Param {
	ps := v.m.Parameters()
	out := make([]train.Param, len(ps))
	for i, p := range ps {
		out[i] = train.Param{Name: p.Name, Tensor: p.Tensor}
	}
	return out
}

// LoadModel rebuilds the model of a trained checkpoint and loads its
// weights; every parameter must be present with its shape.
func LoadModel(tm TrainedModel) (train.Model, error) {
	mp, err := tm.Params()
	if err != nil {
		return nil, err
	}
	m, err := BuildModel(mp, 0)
	if err != nil {
		return nil, err
	}
	if vm, ok := m.(*vilbertModel); ok {
		// ViLBERT's loader also takes MMF's key layout (model.bert.*).
		rep, err := vm.m.LoadStateDict(tm.Weights, vilbert.LoadOptions{})
		if err != nil {
			return nil, fmt.Errorf("load vilbert weights: %w", err)
		}
		if len(rep.Missing) > 0 || len(rep.Initialised) > 0 {
			return nil, fmt.Errorf("load vilbert weights: %s", rep)
		}
		return m, nil
	}
	if err := train.LoadWeights(m, tm.Weights); err != nil {
		return nil, fmt.Errorf("load %s weights: %w", mp.Kind, err)
	}
	return m, nil
}

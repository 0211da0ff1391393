// Package vilbert is ViLBERT as MMF builds it (mmf/models/vilbert.py): a
// BERT text stream and a visual stream of region features, joined by
// co-attention ("connection") layers, with MMF's classification head, the
// original project's concat head, and the project's core variant.
//
// The model is written in the llm.c style: every module is a struct whose
// parameters carry their PyTorch/MMF checkpoint key in a `pt` struct tag,
// Forward reads like the paper with shapes in comments, and each module's
// Backward sits beside its Forward. Parameters are *tensor.Tensor leaves,
// so optimisers and freezing work on them as on any other model; the
// model's own backward pass accumulates into their Grad.
//
// In short:
//
//	cfg, _ := vilbert.LoadConfigJSON("bert_base_6layer_6conect.json") // or DefaultConfig, CoreConfig, YAML
//	m, _ := vilbert.New(cfg, seed)                                     // BERT-style random init
//	rep, _ := m.LoadStateDict(sd, vilbert.LoadOptions{})               // MMF, CC (VMT) or HF BERT keys
//	out, _ := m.Forward(inputs, train, rng)                            // out.Logits [B, 2]
//	_, dlogits, _ := vilbert.CrossEntropy(out.Logits, labels, 2)
//	m.Backward(dlogits)                                                // grads in each Parameters()[i].Tensor.Grad
//	m.BackwardApply(dlogits, opt.InBackward().Apply)                   // or: AdamW inside backward, no grads kept
//	m.BackwardStep(dlogits, opt.InBackward())                          // the same, word table updated by rows
//
// Memory at full size (248M parameters): weights, AdamW's two moments
// and, with Backward, a gradient per parameter take about 1 GB each;
// activations for a batch of 8 × 128 tokens × 100 regions about 1.1 GB
// (buffers shared across layers, attention contexts, probabilities after
// dropout, GELU outputs and LayerNorm outputs rebuilt in backward).
// BackwardApply replaces the per-parameter gradients with two shared
// buffers, bit-identical to Backward then AdamW.Step; BackwardStep also
// hands the word table's gradient over on the batch's rows only, so the
// largest shared buffer is a layer's weight (9 MB) instead of the
// vocabulary table (94 MB).
//
// Trainable adapts a Model to the training loop (train.Model). A Model
// keeps its activations between Forward and Backward and is not safe for
// concurrent use.
package vilbert

import (
	"encoding/json"
	"fmt"
	"os"
)

// Head names the classifier on top of the two streams.
type Head string

const (
	// HeadMMF is MMF's ViLBERTForClassification: fused pooled outputs →
	// dropout → dense+GELU+LayerNorm → linear (keys classifier.0.dense,
	// classifier.0.LayerNorm, classifier.1).
	HeadMMF Head = "mmf"
	// HeadConcat is the original project's head: [pooled_t ; pooled_v]
	// (2·bi_hidden) → linear → ReLU → dropout → linear (keys classifier.0,
	// classifier.3).
	HeadConcat Head = "concat"
	// HeadCore is the core variant's head: [text [CLS] ; masked mean of the
	// visual stream] → linear(hidden) → ReLU → dropout → linear (keys
	// classifier.0, classifier.3).
	HeadCore Head = "core"
)

// Region conventions for the visual input.
const (
	// RegionsMMF feeds regions as given; the image mask comes from the real
	// region count (MMF's reader).
	RegionsMMF = "mmf"
	// RegionsVMT prepends the mean of the real regions as region 0 with
	// location [0,0,1,1,1] (vilbert-multi-task's reader, used to pretrain
	// the Conceptual Captions checkpoint).
	RegionsVMT = "vmt"
)

// Config holds every size and switch of the model. Field names follow
// vilbert-multi-task's bert_base_6layer_6conect.json so that file decodes
// directly; the yaml tags are the same names for conf/base/parameters.yml.
type Config struct {
	VocabSize             int     `json:"vocab_size" yaml:"vocab_size"`
	HiddenSize            int     `json:"hidden_size" yaml:"hidden_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers" yaml:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads" yaml:"num_attention_heads"`
	IntermediateSize      int     `json:"intermediate_size" yaml:"intermediate_size"`
	HiddenAct             string  `json:"hidden_act" yaml:"hidden_act"`
	HiddenDropout         float32 `json:"hidden_dropout_prob" yaml:"hidden_dropout_prob"`
	AttentionDropout      float32 `json:"attention_probs_dropout_prob" yaml:"attention_probs_dropout_prob"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings" yaml:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size" yaml:"type_vocab_size"`
	InitializerRange      float32 `json:"initializer_range" yaml:"initializer_range"`
	LayerNormEps          float32 `json:"layer_norm_eps" yaml:"layer_norm_eps"`

	VFeatureSize       int     `json:"v_feature_size" yaml:"v_feature_size"`
	VTargetSize        int     `json:"v_target_size" yaml:"v_target_size"`
	VHiddenSize        int     `json:"v_hidden_size" yaml:"v_hidden_size"`
	VNumHiddenLayers   int     `json:"v_num_hidden_layers" yaml:"v_num_hidden_layers"`
	VNumAttentionHeads int     `json:"v_num_attention_heads" yaml:"v_num_attention_heads"`
	VIntermediateSize  int     `json:"v_intermediate_size" yaml:"v_intermediate_size"`
	VHiddenAct         string  `json:"v_hidden_act" yaml:"v_hidden_act"`
	VHiddenDropout     float32 `json:"v_hidden_dropout_prob" yaml:"v_hidden_dropout_prob"`
	VAttentionDropout  float32 `json:"v_attention_probs_dropout_prob" yaml:"v_attention_probs_dropout_prob"`
	VInitializerRange  float32 `json:"v_initializer_range" yaml:"v_initializer_range"`

	BiHiddenSize        int   `json:"bi_hidden_size" yaml:"bi_hidden_size"`
	BiNumAttentionHeads int   `json:"bi_num_attention_heads" yaml:"bi_num_attention_heads"`
	BiIntermediateSize  int   `json:"bi_intermediate_size" yaml:"bi_intermediate_size"`
	BiAttentionType     int   `json:"bi_attention_type" yaml:"bi_attention_type"`
	VBiAttentionID      []int `json:"v_biattention_id" yaml:"v_biattention_id"`
	TBiAttentionID      []int `json:"t_biattention_id" yaml:"t_biattention_id"`
	WithCoattention     bool  `json:"with_coattention" yaml:"with_coattention"`

	// FusionMethod combines the pooled outputs for the MMF head: "mul" or "sum".
	FusionMethod string `json:"fusion_method" yaml:"fusion_method"`
	// PoolingMethod is vilbert-multi-task's name for the same switch; when
	// a JSON file sets only pooling_method it is used as the fusion method.
	PoolingMethod string `json:"pooling_method" yaml:"pooling_method"`

	// Head selects the classifier; NumLabels its outputs.
	Head      Head `json:"head" yaml:"head"`
	NumLabels int  `json:"num_labels" yaml:"num_labels"`
	// ClassifierDropout is the dropout before (MMF head) or inside
	// (concat and core heads) the classifier.
	ClassifierDropout float32 `json:"classifier_dropout" yaml:"classifier_dropout"`
	// RegionConvention is RegionsMMF or RegionsVMT; empty means "that of
	// the checkpoint being loaded" (see LoadReport.Convention).
	RegionConvention string `json:"region_convention" yaml:"region_convention"`
	// FreezeBertLayers freezes the text embeddings and the first N text
	// layers: they get no gradient and no backward work.
	FreezeBertLayers int `json:"freeze_bert_layers" yaml:"freeze_bert_layers"`
}

// DefaultConfig is the Facebook architecture of the Conceptual Captions
// checkpoint (vilbert-multi-task bert_base_6layer_6conect.json, MMF
// defaults.yaml) with MMF's classification head.
func DefaultConfig() Config {
	return Config{
		VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
		IntermediateSize: 3072, HiddenAct: "gelu", HiddenDropout: 0.1, AttentionDropout: 0.1,
		MaxPositionEmbeddings: 512, TypeVocabSize: 2, InitializerRange: 0.02, LayerNormEps: 1e-12,

		VFeatureSize: 2048, VTargetSize: 1601, VHiddenSize: 1024, VNumHiddenLayers: 6,
		VNumAttentionHeads: 8, VIntermediateSize: 1024, VHiddenAct: "gelu",
		VHiddenDropout: 0.1, VAttentionDropout: 0.1, VInitializerRange: 0.02,

		BiHiddenSize: 1024, BiNumAttentionHeads: 8, BiIntermediateSize: 1024, BiAttentionType: 1,
		VBiAttentionID:  []int{0, 1, 2, 3, 4, 5},
		TBiAttentionID:  []int{6, 7, 8, 9, 10, 11},
		WithCoattention: true,

		FusionMethod: "mul", PoolingMethod: "mul",
		Head: HeadMMF, NumLabels: 2, ClassifierDropout: 0.1,
	}
}

// CoreConfig is the project's core variant: a visual stream as wide as
// BERT (6 × 768, 12 heads, FFN 3072), co-attention after text layers 1, 3,
// …, 11 and after every visual layer, and the [CLS] ⊕ masked-mean head
// (1536 → 768 → 2, dropout 0.5). Its text stream is meant to start from
// bert-base-uncased.
func CoreConfig() Config {
	c := DefaultConfig()
	c.VHiddenSize, c.VNumAttentionHeads, c.VIntermediateSize = 768, 12, 3072
	c.BiHiddenSize, c.BiNumAttentionHeads, c.BiIntermediateSize = 768, 12, 3072
	c.VBiAttentionID = []int{1, 2, 3, 4, 5, 6}
	c.TBiAttentionID = []int{2, 4, 6, 8, 10, 12}
	c.Head, c.ClassifierDropout = HeadCore, 0.5
	return c
}

// LoadConfigJSON reads a vilbert-multi-task style configuration file. Keys
// it sets replace the DefaultConfig values; keys this model does not use
// (visual_target, fast_mode, …) are ignored, as BertConfig.from_dict does.
func LoadConfigJSON(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("vilbert config: %w", err)
	}
	c := DefaultConfig()
	// A file that names only pooling_method means it for the fusion too.
	var probe struct {
		Fusion  *string `json:"fusion_method"`
		Pooling *string `json:"pooling_method"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Config{}, fmt.Errorf("vilbert config %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("vilbert config %s: %w", path, err)
	}
	if probe.Fusion == nil && probe.Pooling != nil {
		c.FusionMethod = *probe.Pooling
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("vilbert config %s: %w", path, err)
	}
	return c, nil
}

// Validate reports the first inconsistent setting.
func (c *Config) Validate() error {
	pos := map[string]int{
		"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize, "num_attention_heads": c.NumAttentionHeads,
		"intermediate_size": c.IntermediateSize, "max_position_embeddings": c.MaxPositionEmbeddings,
		"type_vocab_size": c.TypeVocabSize, "v_feature_size": c.VFeatureSize, "v_hidden_size": c.VHiddenSize,
		"v_num_attention_heads": c.VNumAttentionHeads, "v_intermediate_size": c.VIntermediateSize,
		"bi_hidden_size": c.BiHiddenSize, "bi_num_attention_heads": c.BiNumAttentionHeads, "num_labels": c.NumLabels,
	}
	for _, k := range []string{"vocab_size", "hidden_size", "num_attention_heads", "intermediate_size",
		"max_position_embeddings", "type_vocab_size", "v_feature_size", "v_hidden_size", "v_num_attention_heads",
		"v_intermediate_size", "bi_hidden_size", "bi_num_attention_heads", "num_labels"} {
		if pos[k] <= 0 {
			return fmt.Errorf("%s must be positive, got %d", k, pos[k])
		}
	}
	for _, d := range []struct {
		name        string
		size, heads int
	}{{"hidden_size", c.HiddenSize, c.NumAttentionHeads}, {"v_hidden_size", c.VHiddenSize, c.VNumAttentionHeads},
		{"bi_hidden_size", c.BiHiddenSize, c.BiNumAttentionHeads}} {
		if d.size%d.heads != 0 {
			return fmt.Errorf("%s %d is not a multiple of its %d attention heads", d.name, d.size, d.heads)
		}
	}
	if c.NumHiddenLayers < 0 || c.VNumHiddenLayers < 0 {
		return fmt.Errorf("layer counts must not be negative (num_hidden_layers %d, v_num_hidden_layers %d)", c.NumHiddenLayers, c.VNumHiddenLayers)
	}
	for _, a := range []struct{ name, act string }{{"hidden_act", c.HiddenAct}, {"v_hidden_act", c.VHiddenAct}} {
		if a.act != "gelu" {
			return fmt.Errorf("%s %q: only \"gelu\" (exact erf form) is supported", a.name, a.act)
		}
	}
	if len(c.VBiAttentionID) != len(c.TBiAttentionID) {
		return fmt.Errorf("v_biattention_id has %d entries, t_biattention_id %d; they pair up", len(c.VBiAttentionID), len(c.TBiAttentionID))
	}
	// The encoder runs layers [start, end) of each stream before each
	// connection layer, so the ids must be non-decreasing and in range.
	for _, s := range []struct {
		name string
		ids  []int
		n    int
	}{{"v_biattention_id", c.VBiAttentionID, c.VNumHiddenLayers}, {"t_biattention_id", c.TBiAttentionID, c.NumHiddenLayers}} {
		prev := 0
		for i, id := range s.ids {
			if id < prev || id > s.n {
				return fmt.Errorf("%s[%d] = %d: ids must be non-decreasing and within 0..%d", s.name, i, id, s.n)
			}
			prev = id
		}
	}
	switch c.FusionMethod {
	case "mul", "sum":
	default:
		return fmt.Errorf("fusion_method %q: want \"mul\" or \"sum\"", c.FusionMethod)
	}
	switch c.Head {
	case HeadMMF, HeadConcat, HeadCore:
	default:
		return fmt.Errorf("head %q: want %q, %q or %q", c.Head, HeadMMF, HeadConcat, HeadCore)
	}
	switch c.RegionConvention {
	case "", RegionsMMF, RegionsVMT:
	default:
		return fmt.Errorf("region_convention %q: want %q or %q (or empty for the checkpoint's)", c.RegionConvention, RegionsMMF, RegionsVMT)
	}
	if c.FreezeBertLayers < 0 || c.FreezeBertLayers > c.NumHiddenLayers {
		return fmt.Errorf("freeze_bert_layers %d outside 0..%d", c.FreezeBertLayers, c.NumHiddenLayers)
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"hidden_dropout_prob", c.HiddenDropout}, {"attention_probs_dropout_prob", c.AttentionDropout},
		{"v_hidden_dropout_prob", c.VHiddenDropout}, {"v_attention_probs_dropout_prob", c.VAttentionDropout},
		{"classifier_dropout", c.ClassifierDropout}} {
		if p.v < 0 || p.v >= 1 {
			return fmt.Errorf("%s %g outside [0, 1)", p.name, p.v)
		}
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("layer_norm_eps %g must be positive", c.LayerNormEps)
	}
	return nil
}

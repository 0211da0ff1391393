package vilbert

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

func TestLoadConfigJSONFacebook(t *testing.T) {
	c, err := LoadConfigJSON(filepath.Join("testdata", "bert_base_6layer_6conect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("vilbert-multi-task's config differs from DefaultConfig:\n%+v\n%+v", c, DefaultConfig())
	}
}

func TestLoadConfigJSONFusionFromPooling(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(`{"pooling_method": "sum", "visual_target": 0, "fast_mode": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.FusionMethod != "sum" {
		t.Errorf("fusion %q, want sum from pooling_method", c.FusionMethod)
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
hidden_size: 32
num_hidden_layers: 3
num_attention_heads: 4
v_biattention_id: [0, 1]
t_biattention_id: [1, 2]
v_num_hidden_layers: 2
head: concat
region_convention: vmt
freeze_bert_layers: 1
`
	c := DefaultConfig()
	if err := yaml.UnmarshalWithOptions([]byte(src), &c, yaml.DisallowUnknownField()); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 32 || c.Head != HeadConcat || c.RegionConvention != RegionsVMT || c.FreezeBertLayers != 1 ||
		!reflect.DeepEqual(c.TBiAttentionID, []int{1, 2}) || c.VHiddenSize != 1024 {
		t.Errorf("decoded %+v", c)
	}
	err := yaml.UnmarshalWithOptions([]byte("v_hiden_size: 3\n"), &c, yaml.DisallowUnknownField())
	if err == nil {
		t.Error("a misspelt key should be an error")
	}
}

func TestCoreConfig(t *testing.T) {
	c := CoreConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := schedule(&c)
	// Co-attention after text layers 1, 3, …, 11 and after each visual layer.
	var order []string
	for _, s := range got {
		order = append(order, string(s.kind)+string(rune('0'+s.i%10)))
	}
	want := "t0 t1 v0 c0 t2 t3 v1 c1 t4 t5 v2 c2 t6 t7 v3 c3 t8 t9 v4 c4 t0 t1 v5 c5"
	if strings.Join(order, " ") != want {
		t.Errorf("core schedule %s", strings.Join(order, " "))
	}
	n, err := ParamCount(c)
	if err != nil || n < 200_000_000 {
		t.Errorf("core parameters %d, %v", n, err)
	}
}

func TestFacebookSchedule(t *testing.T) {
	c := DefaultConfig()
	var order []string
	for _, s := range schedule(&c) {
		order = append(order, string(s.kind)+string(rune('0'+s.i%10)))
	}
	// Reference §2g: T0–T5 C0, (T6 V0 C1) … (T10 V4 C5), V5, T11.
	want := "t0 t1 t2 t3 t4 t5 c0 t6 v0 c1 t7 v1 c2 t8 v2 c3 t9 v3 c4 t0 v4 c5 v5 t1"
	if strings.Join(order, " ") != want {
		t.Errorf("schedule %s", strings.Join(order, " "))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.HiddenSize = 770 }, "hidden_size 770 is not a multiple"},
		{func(c *Config) { c.TBiAttentionID = []int{6, 7} }, "pair up"},
		{func(c *Config) { c.TBiAttentionID = []int{6, 7, 8, 9, 11, 10} }, "t_biattention_id[5] = 10"},
		{func(c *Config) { c.VBiAttentionID = []int{0, 1, 2, 3, 4, 7} }, "v_biattention_id[5] = 7"},
		{func(c *Config) { c.FusionMethod = "concat" }, "fusion_method"},
		{func(c *Config) { c.Head = "linear" }, "head \"linear\""},
		{func(c *Config) { c.HiddenAct = "relu" }, "hidden_act"},
		{func(c *Config) { c.RegionConvention = "global" }, "region_convention"},
		{func(c *Config) { c.FreezeBertLayers = 13 }, "freeze_bert_layers 13"},
		{func(c *Config) { c.HiddenDropout = 1 }, "hidden_dropout_prob"},
		{func(c *Config) { c.VocabSize = 0 }, "vocab_size must be positive"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want an error containing %q", err, c.want)
		}
	}
}

// FuzzLoadConfigJSON feeds arbitrary bytes to the JSON config reader: it
// must return an error or a configuration that validates and can be sized.
func FuzzLoadConfigJSON(f *testing.F) {
	for _, name := range []string{"bert_base_6layer_6conect.json", "config_tiny.json", "config_tiny_core.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v_biattention_id": [3, 1], "t_biattention_id": [1, 2]}`))
	f.Add([]byte(`{"hidden_size": -1}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfigJSON(p)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("LoadConfigJSON accepted an invalid config: %v", err)
		}
		if len(schedule(&c)) < c.NumHiddenLayers+c.VNumHiddenLayers {
			t.Fatal("schedule drops layers")
		}
	})
}

// TestLoadConfigJSONHuggingFaceBERT reads bert-base-uncased's config.json:
// its text-stream fields share ViLBERT's names, the visual stream keeps
// the defaults.
func TestLoadConfigJSONHuggingFaceBERT(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	hf := `{"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false,
  "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
  "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
  "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
  "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": true, "vocab_size": 30522}`
	if err := os.WriteFile(p, []byte(hf), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfigJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("bert-base-uncased config.json gives %+v", c)
	}
}

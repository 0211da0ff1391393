package models

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/vilbert"
)

func tinyTextBERT() TextBERTConfig {
	return TextBERTConfig{VocabSize: 50, HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2,
		IntermediateSize: 16, MaxPositionEmbeddings: 8, TypeVocabSize: 2}
}

func TestKindsAreTheParamsFields(t *testing.T) {
	if got, want := Kinds(), []string{KindPooledLinear, KindViLBERT, KindTextBERT}; !reflect.DeepEqual(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
	for _, name := range Kinds() {
		if _, err := (Params{}).Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	_, err := Build(Params{Kind: "vilbret"}, 1)
	if err == nil || !strings.Contains(err.Error(), `"vilbret" unknown`) || !strings.Contains(err.Error(), "pooled_linear, vilbert, text_bert") {
		t.Errorf("unknown kind: %v; want the kind and the registered ones", err)
	}
	if in := (ViLBERTParams{}).Info().Inputs; !in.Text || !in.Regions {
		t.Errorf("vilbert inputs %+v", in)
	}
	if in := (PooledLinearParams{UseImage: true}).Info().Inputs; in.Text || !in.Regions {
		t.Errorf("image-only pooled_linear inputs %+v", in)
	}
	if _, err := Build(Params{Kind: KindTextBERT}, 1); err == nil || !strings.Contains(err.Error(), "model.text_bert is empty") {
		t.Errorf("text_bert without sizes: %v", err)
	}
}

// TestInitialiseMissingFile: a missing init_weights file is an error for
// text_bert (issue 16 item 13) and for ViLBERT (issue 15);
// "none" and "" train from scratch without a word.
func TestInitialiseMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "pytorch_model.bin")
	tb := Params{Kind: KindTextBERT, TextBERT: tinyTextBERT(), InitWeights: missing}
	m, err := Build(tb, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Initialise(m, tb); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "init_weights: none") {
		t.Errorf("text_bert, missing init_weights: %v; want an error naming the file and init_weights: none", err)
	}
	for _, none := range []string{"", NoInitWeights} {
		tb.InitWeights = none
		if msg, err := Initialise(m, tb); msg != "" || err != nil {
			t.Errorf("init_weights %q: %q, %v; want nothing", none, msg, err)
		}
	}

	c := vilbert.CoreConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 8, 1, 2, 16
	c.VHiddenSize, c.VNumHiddenLayers, c.VNumAttentionHeads, c.VIntermediateSize = 8, 1, 2, 16
	c.BiHiddenSize, c.BiNumAttentionHeads, c.BiIntermediateSize = 8, 2, 16
	c.VBiAttentionID, c.TBiAttentionID = []int{0}, []int{0}
	c.VFeatureSize, c.VocabSize, c.MaxPositionEmbeddings = 4, 50, 8
	vp := Params{Kind: KindViLBERT, ViLBERT: ViLBERTParams{Config: c}, InitWeights: missing}
	vm, err := Build(vp, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Training 248M parameters from scratch on real data is never what a
	// user wants: a missing file is an error naming the expected one.
	if msg, err := Initialise(vm, vp); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "weights/vilbert_pretrained_cc.bin") || !strings.Contains(err.Error(), "init_weights: none") {
		t.Errorf("vilbert, missing init_weights: %q, %v; want an error naming the file, weights/vilbert_pretrained_cc.bin and init_weights: none", msg, err)
	}
}

// TestLoadNamesTensors: a missing tensor is named; extra tensors are
// reported, and are an error when strict.
func TestLoadNamesTensors(t *testing.T) {
	p := Params{Kind: KindTextBERT, TextBERT: tinyTextBERT()}
	m, err := Build(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustJSON(t, p)
	full := checkpoint.StateDict{}
	for _, q := range m.Params() {
		full[q.Name] = &checkpoint.Array{Shape: q.Tensor.Shape, Data: q.Tensor.Data}
	}
	lacking := checkpoint.StateDict{}
	for k, a := range full {
		if k != "bert.pooler.dense.bias" {
			lacking[k] = a
		}
	}
	if _, _, _, err := Load(Trained{Weights: lacking, Sidecar: checkpoint.Sidecar{Config: cfg}}, false); err == nil || !strings.Contains(err.Error(), `"bert.pooler.dense.bias"`) {
		t.Errorf("missing tensor: %v; want it named", err)
	}
	full["head.extra"] = &checkpoint.Array{Shape: []int{1}, Data: []float32{0}}
	_, _, rep, err := Load(Trained{Weights: full, Sidecar: checkpoint.Sidecar{Config: cfg}}, false)
	if err != nil || !reflect.DeepEqual(rep.Extra, []string{"head.extra"}) || !strings.Contains(rep.Warning(), `"head.extra"`) {
		t.Errorf("extra tensor: report %+v, %v", rep, err)
	}
	if _, _, _, err := Load(Trained{Weights: full, Sidecar: checkpoint.Sidecar{Config: cfg}}, true); err == nil || !strings.Contains(err.Error(), `"head.extra"`) {
		t.Errorf("extra tensor, strict: %v; want an error naming it", err)
	}
}

// TestLoadSidecarWithoutSizes: a text_bert sidecar that does not size
// the model says so and names the kind (it used to fail with a bare
// "sizes must be positive").
func TestLoadSidecarWithoutSizes(t *testing.T) {
	_, _, _, err := Load(Trained{Sidecar: checkpoint.Sidecar{Model: KindTextBERT, Config: []byte(`{"kind":"text_bert"}`)}}, false)
	if err == nil || !strings.Contains(err.Error(), "text_bert model") || !strings.Contains(err.Error(), "model.text_bert is empty") {
		t.Errorf("unsized text_bert sidecar: %v", err)
	}
}

func TestReadWeightsUnknownExtension(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.ckpt")
	os.WriteFile(path, []byte("x"), 0o644)
	if _, err := ReadWeights(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadWeights(.ckpt): %v", err)
	}
}

func mustJSON(t *testing.T, p Params) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package vilbert

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/checkpoint/pytorch"
)

// tinyModel is the fixture configuration with freshly initialised weights.
func tinyModel(t *testing.T, head Head) *Model {
	t.Helper()
	cfg, err := LoadConfigJSON(filepath.Join("testdata", "config_tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Head = head
	m, err := New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// stateDictWith renames the keys of m's state with rename (drop when it
// returns "").
func stateDictWith(m *Model, rename func(string) string) checkpoint.StateDict {
	sd := checkpoint.StateDict{}
	for k, a := range m.StateDict() {
		if n := rename(k); n != "" {
			sd[n] = &checkpoint.Array{Shape: a.Shape, Data: slices.Clone(a.Data)}
		}
	}
	return sd
}

func TestCanonicalKey(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ignore   bool
	}{
		{"model.bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.query.weight", false},
		{"module.model.bert.t_pooler.dense.bias", "bert.t_pooler.dense.bias", false},
		{"bert.bert.v_embeddings.LayerNorm.weight", "bert.v_embeddings.LayerNorm.weight", false},
		{"bert.classifier.1.weight", "classifier.1.weight", false},
		{"model.classifier.0.dense.weight", "classifier.0.dense.weight", false},
		{"vilbert.encoder.c_layer.0.biattention.query1.weight", "bert.encoder.c_layer.0.biattention.query1.weight", false},
		{"embeddings.LayerNorm.gamma", "bert.embeddings.LayerNorm.weight", false},
		{"bert.encoder.layer.3.output.LayerNorm.beta", "bert.encoder.layer.3.output.LayerNorm.bias", false},
		{"cls.predictions.bias", "cls.predictions.bias", true},
		{"model.cls.bi_seq_relationship.weight", "cls.bi_seq_relationship.weight", true},
		{"bert.pooler.dense.weight", "bert.pooler.dense.weight", true},
		{"bert.embeddings.position_ids", "bert.embeddings.position_ids", true},
	} {
		got, ignore := canonicalKey(c.in)
		if got != c.want || ignore != c.ignore {
			t.Errorf("canonicalKey(%q) = %q, %v; want %q, %v", c.in, got, ignore, c.want, c.ignore)
		}
	}
}

func TestLoadLayouts(t *testing.T) {
	src := tinyModel(t, HeadMMF)
	word := src.Bert.Embeddings.Word.Data
	for _, c := range []struct {
		name        string
		rename      func(string) string
		kind, conv  string
		complete    bool
		initialised int // head keys left initialised
	}{
		{"mmf finetuned", func(k string) string { return k }, KindMMF, RegionsMMF, true, 0},
		{"data parallel", func(k string) string { return "module." + k }, KindMMF, RegionsMMF, true, 0},
		{"old bert.bert", func(k string) string {
			return strings.Replace(strings.Replace(k, "model.bert.", "bert.bert.", 1), "model.classifier.", "bert.classifier.", 1)
		}, KindMMF, RegionsMMF, true, 0},
		{"mmf zoo pretrained", func(k string) string {
			return strings.Replace(k, "model.classifier.", "model.cls.predictions.", 1)
		}, KindPretrained, RegionsMMF, false, 6},
		{"pretrained with cls heads", func(k string) string {
			if strings.HasPrefix(k, "model.classifier.") {
				return "cls.imagePredictions." + strings.TrimPrefix(k, "model.classifier.")
			}
			return strings.TrimPrefix(k, "model.")
		}, KindPretrained, RegionsVMT, false, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := tinyModel(t, HeadMMF)
			dst.Config.RegionConvention = ""
			rep, err := dst.LoadStateDict(stateDictWith(src, c.rename), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Kind != c.kind || rep.Convention != c.conv || dst.Convention != c.conv || rep.Complete() != c.complete {
				t.Fatalf("report %v convention %q (model %q) complete %v", rep, rep.Convention, dst.Convention, rep.Complete())
			}
			if len(rep.Initialised) != c.initialised || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 {
				t.Fatalf("initialised %v missing %v unexpected %v", rep.Initialised, rep.Missing, rep.Unexpected)
			}
			if !slices.Equal(dst.Bert.Embeddings.Word.Data, word) {
				t.Fatal("word embeddings not copied")
			}
		})
	}
}

func TestLoadReports(t *testing.T) {
	src := tinyModel(t, HeadMMF)
	sd := stateDictWith(src, func(k string) string {
		if strings.Contains(k, "q_dense") || strings.Contains(k, "encoder.layer.1.output.dense.bias") {
			return "" // unused (quiet) and really missing
		}
		return k
	})
	sd["model.bert.something_new.weight"] = &checkpoint.Array{Shape: []int{1}, Data: []float32{1}}
	dst := tinyModel(t, HeadMMF)
	rep, err := dst.LoadStateDict(sd, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Missing, []string{"bert.encoder.layer.1.output.dense.bias"}) {
		t.Errorf("missing %v", rep.Missing)
	}
	if !slices.Equal(rep.Unexpected, []string{"model.bert.something_new.weight"}) {
		t.Errorf("unexpected %v", rep.Unexpected)
	}

	rep, err = dst.LoadStateDict(stateDictWith(src, func(k string) string { return k }), LoadOptions{SkipClassifier: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Initialised) != 6 || len(rep.Ignored) != 6 {
		t.Errorf("SkipClassifier: initialised %v ignored %v", rep.Initialised, rep.Ignored)
	}

	bad := stateDictWith(src, func(k string) string { return k })
	bad["model.bert.t_pooler.dense.weight"] = &checkpoint.Array{Shape: []int{4, 4}, Data: make([]float32, 16)}
	before := slices.Clone(dst.Bert.Embeddings.Word.Data)
	bad["model.bert.embeddings.word_embeddings.weight"].Data[0] = 42
	_, err = dst.LoadStateDict(bad, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "model.bert.t_pooler.dense.weight") ||
		!strings.Contains(err.Error(), "[4,4]") || !strings.Contains(err.Error(), "[16,32]") {
		t.Errorf("shape mismatch error = %v", err)
	}
	if !slices.Equal(before, dst.Bert.Embeddings.Word.Data) {
		t.Error("a failed load changed weights")
	}
}

func TestStateDictRoundTrip(t *testing.T) {
	for _, head := range []Head{HeadMMF, HeadConcat, HeadCore} {
		src := tinyModel(t, head)
		sd := src.StateDict()
		for k := range sd {
			if !strings.HasPrefix(k, "model.bert.") && !strings.HasPrefix(k, "model.classifier.") {
				t.Errorf("key %q outside MMF's layout", k)
			}
		}
		if head == HeadConcat {
			for _, k := range []string{"model.classifier.0.weight", "model.classifier.3.bias"} {
				if sd[k] == nil {
					t.Errorf("concat head lacks %s", k)
				}
			}
		}
	}
	m := tinyModel(t, HeadMMF)
	for _, k := range []string{
		"model.bert.encoder.c_layer.1.v_intermediate.dense.weight", "model.bert.encoder.c_layer.0.t_output.LayerNorm.bias",
		"model.bert.encoder.c_layer.0.biOutput.q_dense2.weight", "model.bert.encoder.v_layer.1.attention.self.key.bias",
		"model.bert.v_embeddings.image_location_embeddings.weight", "model.classifier.0.LayerNorm.weight",
	} {
		if m.StateDict()[k] == nil {
			t.Errorf("state dict lacks %s", k)
		}
	}
}

func TestParamCount(t *testing.T) {
	n, err := ParamCount(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Kiela et al. 2020, appendix Table 2, and reference §2d.
	if n != 247_780_354 {
		t.Errorf("Facebook config with MMF head has %d parameters, want 247,780,354", n)
	}
	c := DefaultConfig()
	c.Head = HeadConcat
	if n2, _ := ParamCount(c); n2 != n-1_053_698+2048*1024+1024+1024*2+2 {
		t.Errorf("concat head: %d parameters", n2)
	}
}

// TestFullSizeCheckpoints loads full-size checkpoints written by
// torch.save in the three layouts (read by ml/checkpoint/pytorch). It needs /usr/bin/python3 with torch and ~3 GB of
// temporary disk.
func TestFullSizeCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size checkpoints take a minute; skipped with -short")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skipf("no torch for /usr/bin/python3 (%v): full-size checkpoints not generated", err)
	}
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "..", "scripts", "fixtures", "vilbert.py"), "--fullsize", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fixture script: %v\n%s", err, out)
	}
	m, err := New(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range m.Parameters() {
		total += len(p.Tensor.Data)
	}
	if total != 247_780_354 {
		t.Fatalf("allocated %d parameters", total)
	}
	load := func(name string) (*LoadReport, checkpoint.StateDict) {
		sd, err := pytorch.Load(filepath.Join(dir, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := m.LoadStateDict(sd, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, name))
		return rep, sd
	}

	rep, sd := load("mmf_finetuned.pth")
	if !rep.Complete() || rep.Kind != KindMMF || len(rep.Loaded) != len(sd) {
		t.Fatalf("MMF: %v", rep)
	}
	mine := m.StateDict()
	for k, a := range sd {
		if !slices.Equal(mine[k].Data, a.Data) || !slices.Equal(mine[k].Shape, a.Shape) {
			t.Fatalf("MMF: %s not loaded as written", k)
		}
	}
	sd = nil

	rep, _ = load("cc_pretrained.bin")
	if rep.Kind != KindPretrained || rep.Convention != RegionsVMT || len(rep.Missing)+len(rep.Unexpected) != 0 ||
		len(rep.Initialised) != 6 || len(rep.Ignored) != 14 {
		t.Fatalf("CC: %v; initialised %v ignored %v", rep, rep.Initialised, rep.Ignored)
	}

	rep, _ = load("pytorch_model.bin")
	if rep.Kind != KindBERT || len(rep.Missing)+len(rep.Unexpected) != 0 || len(rep.Ignored) != 4 ||
		len(rep.Loaded) != 5+16*12 {
		t.Fatalf("HF BERT: %v; missing %v unexpected %v", rep, rep.Missing, rep.Unexpected)
	}
}

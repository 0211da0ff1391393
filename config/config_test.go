package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// writeConf lays out files (relative path → content) under a temp dir.
func writeConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadMergeAndInterpolation(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/globals.yml": "data_root: data\nseed: 7\n",
		"base/parameters.yml": `
_common: &common
  lr: 0.001
  epochs: 3
model:
  <<: *common
  hidden: 64
seed: ${globals:seed}
paths:
  raw: ${globals:data_root}/01_raw
  batch: ${runtime_params:batch, 32}
  missing_default: ${runtime_params:nope, ${globals:seed}}
`,
		"base/parameters_extra.yml": "model:\n  dropout: 0.1\n",
		"base/catalog.yml":          "memes:\n  type: jsonl\n  filepath: ${globals:data_root}/01_raw/train.jsonl\n",
		"base/sub/catalog_more.yml": "other:\n  type: json\n  filepath: x.json\n",
		"local/parameters.yml":      "paths:\n  raw: elsewhere\n",
	})
	cfg, err := Load(Options{ConfSource: dir, RuntimeParams: map[string]any{"batch": int64(8), "model.epochs": int64(5)}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path string
		want any
	}{
		{"model.lr", 0.001},
		{"model.epochs", int64(5)}, // --params wins
		{"model.hidden", int64(64)},
		{"model.dropout", 0.1}, // merged from a second parameters file
		{"seed", int64(7)},     // typed interpolation
		{"paths.raw", "elsewhere"},
		{"paths", map[string]any{"raw": "elsewhere"}}, // local replaces the whole top-level key
	}
	for _, c := range checks {
		got, ok := cfg.Parameters.Get(c.path)
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parameters %s = %#v (found %v), want %#v", c.path, got, ok, c.want)
		}
	}
	// conf/local replaced "paths", the only user of ${runtime_params:batch}.
	if !reflect.DeepEqual(cfg.UnknownRuntimeParams, []string{"batch"}) {
		t.Errorf("unknown runtime params %v, want [batch]", cfg.UnknownRuntimeParams)
	}
	cfg2, err := Load(Options{ConfSource: dir, RuntimeParams: map[string]any{"model.epoch": int64(5)}})
	if err != nil || len(cfg2.UnknownRuntimeParams) != 1 || cfg2.UnknownRuntimeParams[0] != "model.epoch" {
		t.Errorf("unknown runtime params %v, %v", cfg2.UnknownRuntimeParams, err)
	}
	if _, ok := cfg.Parameters.Get("_common"); ok {
		t.Error("hidden key _common should be dropped")
	}
	if got, _ := cfg.Catalog.Get("memes.filepath"); got != "data/01_raw/train.jsonl" {
		t.Errorf("catalog filepath = %v", got)
	}
	if _, ok := cfg.Catalog.Get("other.type"); !ok {
		t.Error("catalog file in a subdirectory was not loaded")
	}
	if pos := cfg.Parameters.Source("model.epochs"); pos.File != "--params" {
		t.Errorf("source of model.epochs = %v, want --params", pos)
	}
	if pos := cfg.Parameters.Source("model.hidden"); !strings.HasSuffix(pos.File, "base/parameters.yml") || pos.Line != 7 {
		t.Errorf("source of model.hidden = %v, want base/parameters.yml:7", pos)
	}
}

func TestLoadRuntimeDefaults(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/globals.yml":    "seed: 7\n",
		"base/parameters.yml": "a: ${runtime_params:x, 3}\nb: ${runtime_params:y, ${globals:seed}}\nc: \"v${globals:seed}\"\n",
	})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{"a": int64(3), "b": int64(7), "c": "v7"} {
		if got, _ := cfg.Parameters.Get(path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		env   string
		want  []string
	}{
		{"malformed yaml", map[string]string{"base/parameters.yml": "a:\n  b: 1\n c: [\n"}, "",
			[]string{"parameters.yml:", "invalid YAML"}},
		{"duplicate key in one file", map[string]string{"base/parameters.yml": "a: 1\na: 2\n"}, "",
			[]string{"parameters.yml:2:1"}},
		{"duplicate catalog key across files", map[string]string{
			"base/catalog.yml": "ds:\n  type: json\n", "base/catalog_b.yml": "x: {type: json}\nds:\n  type: text\n"}, "",
			[]string{`duplicate catalog key "ds"`, "catalog.yml:1:1", "catalog_b.yml:2:1"}},
		{"duplicate parameter leaf across files", map[string]string{
			"base/parameters.yml": "m:\n  lr: 1\n", "base/parameters_x.yml": "m:\n  lr: 2\n"}, "",
			[]string{`duplicate parameter "m.lr"`}},
		{"unknown env", map[string]string{"base/parameters.yml": "a: 1\n", "demo/parameters.yml": "a: 2\n"}, "deom",
			[]string{`environment "deom" not found`, `did you mean "demo"`}},
		{"unknown global", map[string]string{"base/globals.yml": "seed: 1\n", "base/parameters.yml": "a: ${globals:sead}\n"}, "",
			[]string{"parameters.yml:1:1", `no such key in globals (did you mean "seed"?)`}},
		{"runtime params in globals", map[string]string{"base/globals.yml": "a: ${runtime_params:x, 1}\n"}, "",
			[]string{"not allowed in globals"}},
		{"top level not a mapping", map[string]string{"base/parameters.yml": "- 1\n- 2\n"}, "",
			[]string{"top level must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeConf(t, c.files)
			_, err := Load(Options{ConfSource: dir, Env: c.env})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMalformedYAMLPosition(t *testing.T) {
	_, err := ParseFile("p.yml", []byte("a: 1\nb: [1, 2\nc: 3\n"))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a ParseError", err)
	}
	if pe.Pos.File != "p.yml" || pe.Pos.Line == 0 || pe.Pos.Col == 0 {
		t.Errorf("position %v lacks line and column", pe.Pos)
	}
	if !strings.HasPrefix(err.Error(), "p.yml:") {
		t.Errorf("error %q does not start with file:line:column", err)
	}
}

type synth struct {
	NumMemes int     `yaml:"num_memes"`
	Seed     int64   `yaml:"seed"`
	Ratio    float64 `yaml:"confounder_ratio"`
	Splits   map[string]int
	Words    []string
	Nested   struct {
		ImageSize int `yaml:"image_size"`
	} `yaml:"nested"`
	Optional *int
}

func TestDecodeStrict(t *testing.T) {
	dir := writeConf(t, map[string]string{"base/parameters.yml": `synthetic:
  num_memes: 30
  seed: 1
  confounder_ratio: 1
  splits: {train: 20, dev: 10}
  words: [cat, dog]
  nested:
    image_size: 64
`})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	var s synth
	if err := Decode(cfg.Parameters, "synthetic", &s); err != nil {
		t.Fatal(err)
	}
	if s.NumMemes != 30 || s.Ratio != 1 || s.Splits["dev"] != 10 || s.Words[1] != "dog" || s.Nested.ImageSize != 64 || s.Optional != nil {
		t.Errorf("decoded %+v", s)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "synthetic:\n  num_memes: 3\n  num_meme: 4\n",
			[]string{"parameters.yml:3:3", `"synthetic.num_meme"`, "unknown parameter", `did you mean "num_memes"`}},
		{"unknown nested key", "synthetic:\n  nested:\n    image_sise: 3\n",
			[]string{"parameters.yml:3:5", `did you mean "image_size"`}},
		{"wrong type", "synthetic:\n  num_memes: many\n",
			[]string{"parameters.yml:2:3", "want an integer"}},
		{"fraction into int", "synthetic:\n  num_memes: 2.5\n",
			[]string{"want an integer"}},
		{"list into map", "synthetic:\n  splits: [1]\n",
			[]string{"want a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeConf(t, map[string]string{"base/parameters.yml": c.yaml})
			cfg, err := Load(Options{ConfSource: dir})
			if err != nil {
				t.Fatal(err)
			}
			var s synth
			err = Decode(cfg.Parameters, "synthetic", &s)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDecodeMissingSubtree(t *testing.T) {
	tr := NewTree()
	tr.Set("synthetic.seed", int64(1), Pos{File: "f.yml", Line: 1})
	var s synth
	err := Decode(tr, "synthetc", &s)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("error = %v", err)
	}
}

func TestMergeKeyExplicitWins(t *testing.T) {
	tr, err := ParseFile("m.yml", []byte("_a: &a {x: 1, y: 2}\n_b: &b {x: 5, z: 3}\nafter:\n  x: 20\n  <<: *a\nbefore:\n  <<: *a\n  x: 30\nmany:\n  <<: [*a, *b]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"after":  map[string]any{"x": int64(20), "y": int64(2)},
		"before": map[string]any{"x": int64(30), "y": int64(2)},
		"many":   map[string]any{"x": int64(1), "y": int64(2), "z": int64(3)},
	}
	for k, w := range want {
		if got := tr.Values[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
}

func TestParseParams(t *testing.T) {
	got, err := ParseParams("a.b=1,c=x,d=0.5,e=true,f=,g=[1,2],h=k=v")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a.b": int64(1), "c": "x", "d": 0.5, "e": true, "f": "", "g": "[1,2]", "h": "k=v"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseParams = %#v, want %#v", got, want)
	}
	for _, bad := range []string{"novalue", "=1", "a..b=1"} {
		if _, err := ParseParams(bad); err == nil {
			t.Errorf("ParseParams(%q) gave no error", bad)
		}
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{"NumMemes": "num_memes", "LR": "lr", "HTTPPort": "http_port", "Seed2": "seed2", "ImageID": "image_id"} {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNearest(t *testing.T) {
	cands := []string{"num_memes", "seed", "image_size"}
	for in, want := range map[string]string{"num_meme": "num_memes", "sede": "seed", "zzzzzzzz": ""} {
		if got := Nearest(in, cands); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseFile checks that arbitrary bytes never crash the config file
// parser, and that anything it accepts has a mapping at the top.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: [1, 2\n", "_x: &x {a: 1}\nb:\n  <<: *x\n", "- 1\n", "a: ${globals:x}\n", "{", "a:\n  b:\n    c: d\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseFile("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if tr.Values == nil {
			t.Error("nil values without error")
		}
		// Without merge keys, the AST conversion must agree with the
		// library's own decoder.
		if bytes.Contains(data, []byte("<<")) || bytes.Contains(data, []byte("!")) {
			return
		}
		var raw any
		if yaml.Unmarshal(data, &raw) != nil {
			return
		}
		if m, ok := normalize(raw).(map[string]any); ok && !reflect.DeepEqual(m, tr.Values) && fmt.Sprint(m) != fmt.Sprint(tr.Values) {
			t.Errorf("AST values %#v differ from decoder values %#v", tr.Values, m)
		}
	})
}

// FuzzParseParams checks the --params parser on arbitrary strings.
func FuzzParseParams(f *testing.F) {
	f.Add("a.b=1,c=x")
	f.Add("g=[1,2],h=k=v")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseParams(s)
		if err != nil {
			return
		}
		for k := range m {
			if checkKey(k) != nil {
				t.Errorf("accepted bad key %q", k)
			}
		}
	})
}

// TestDecodeValueDottedKey decodes under a key that contains dots, which
// Get cannot reach, and still reports the file position of a bad key.
func TestDecodeValueDottedKey(t *testing.T) {
	tree, err := ParseFile("catalog.yml", []byte("ns.report:\n  save_args:\n    indent: 2\n    indnet: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tree.Get("ns.report.save_args"); ok {
		t.Fatal("Get reached a dotted key; the test no longer covers DecodeValue's purpose")
	}
	val := tree.Values["ns.report"].(map[string]any)["save_args"]
	var args struct {
		Indent int `yaml:"indent"`
	}
	err = DecodeValue(tree, "ns.report.save_args", val, &args)
	if err == nil || !strings.Contains(err.Error(), "catalog.yml:4:") || !strings.Contains(err.Error(), `"indent"`) {
		t.Fatalf("err = %v, want the position of indnet and a suggestion", err)
	}
	delete(val.(map[string]any), "indnet")
	if err := DecodeValue(tree, "ns.report.save_args", val, &args); err != nil || args.Indent != 2 {
		t.Fatalf("DecodeValue = %+v, %v", args, err)
	}
	if err := DecodeValue(tree, "x", val, args); err == nil {
		t.Error("a non-pointer target was accepted")
	}
}

// TestNullKeySpellings: every spelling of YAML's null key is the key
// "null", as the YAML decoder has it (the AST token text once gave "~"),
// and two spellings of it in one mapping are a duplicate key.
func TestNullKeySpellings(t *testing.T) {
	for _, src := range []string{"~: 1\n", "null: 1\n", "Null: 1\n", "NULL: 1\n", "? ~\n: 1\n", "!!null : 1\n"} {
		tr, err := ParseFile("n.yml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if _, ok := tr.Values["null"]; !ok || len(tr.Values) != 1 {
			t.Errorf("%q parsed to %#v, want the single key \"null\"", src, tr.Values)
		}
	}
	if tr, err := ParseFile("n.yml", []byte("'~': 1\n")); err != nil || tr.Values["~"] != int64(1) {
		t.Errorf("quoted '~' is a plain string key: got %v, %v", tr, err)
	}
	_, err := ParseFile("n.yml", []byte("~: 1\nnull: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "n.yml:2:1") || !strings.Contains(err.Error(), `"null" already defined`) {
		t.Errorf("two spellings of the null key: err = %v", err)
	}
}

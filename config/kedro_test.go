package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The tests in this file pin behaviours a Kedro user relies on, each as
// Kedro's OmegaConfigLoader documents it (issue 14, items 1–6).

// Kedro resolves "${...}" inside each environment before merging, so a
// base value that refers to a key sees the base's value of that key even
// when the run environment overrides the key itself.
func TestKedroInterpolationPerEnvironment(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/parameters.yml":  "test_env: base\ninterpolated_param: ${test_env}\nboth: ${test_env}\n",
		"local/parameters.yml": "test_env: local\nboth: ${test_env}-x\n",
		"base/catalog.yml":     "_root: data/base\nds:\n  type: json\n  filepath: ${_root}/ds.json\n",
		"local/catalog.yml":    "_root: data/local\nother:\n  type: json\n  filepath: ${_root}/other.json\n",
	})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{"test_env": "local", "interpolated_param": "base", "both": "local-x"} {
		if got, _ := cfg.Parameters.Get(path); got != want {
			t.Errorf("parameters %s = %#v, want %#v", path, got, want)
		}
	}
	for path, want := range map[string]any{"ds.filepath": "data/base/ds.json", "other.filepath": "data/local/other.json"} {
		if got, _ := cfg.Catalog.Get(path); got != want {
			t.Errorf("catalog %s = %#v, want %#v", path, got, want)
		}
	}
	// A reference to a key that only another environment has does not
	// resolve (each environment is resolved on its own).
	dir = writeConf(t, map[string]string{
		"base/parameters.yml":  "seed: 1\n",
		"local/parameters.yml": "copy: ${seed}\n",
	})
	if _, err := Load(Options{ConfSource: dir}); err == nil || !strings.Contains(err.Error(), "${seed}") {
		t.Errorf("cross-environment reference: err = %v, want a no-such-key error", err)
	}
}

// Runtime parameters are merged into the parameters before interpolation:
// "--params test_env=dummy" makes "${test_env}" give "dummy", in every
// environment, while a dotted runtime key keeps the rest of its mapping.
func TestKedroRuntimeParamsBeforeInterpolation(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/parameters.yml":  "test_env: base\ninterpolated_param: ${test_env}\nmodel:\n  lr: 0.1\n  epochs: 3\n  sched: ${model.epochs}\n",
		"local/parameters.yml": "local_param: ${test_env}\nother: 1\n",
	})
	cfg, err := Load(Options{ConfSource: dir, RuntimeParams: map[string]any{"test_env": "dummy", "model.epochs": int64(9)}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"test_env": "dummy", "interpolated_param": "dummy", "local_param": "dummy", "other": int64(1),
		"model": map[string]any{"lr": 0.1, "epochs": int64(9), "sched": int64(9)},
	}
	if !reflect.DeepEqual(cfg.Parameters.Values, want) {
		t.Errorf("parameters = %#v\nwant %#v", cfg.Parameters.Values, want)
	}
	if len(cfg.UnknownRuntimeParams) != 0 {
		t.Errorf("unknown runtime params %v, want none", cfg.UnknownRuntimeParams)
	}
	// A runtime key no file has is still set (Kedro merges it in) and
	// reported as a possible typo.
	cfg, err = Load(Options{ConfSource: dir, RuntimeParams: map[string]any{"test_env": "x", "modle.lr": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.Parameters.Get("modle.lr"); got != 0.5 || !reflect.DeepEqual(cfg.UnknownRuntimeParams, []string{"modle.lr"}) {
		t.Errorf("modle.lr = %v, unknown = %v", got, cfg.UnknownRuntimeParams)
	}
}

// Hidden ("_") top-level keys serve as templates: "${_pandas.type}"
// resolves from the same file or from another file of the same kind in
// the same environment, and the hidden keys never reach the result. YAML
// anchors keep working alongside.
func TestKedroTemplatesInHiddenKeys(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/catalog.yml": `_pandas:
  type: pandas.CSVDataset
  load_args: {sep: ","}
_anchor: &csv
  type: pandas.CSVDataset
companies:
  type: ${_pandas.type}
  filepath: data/01_raw/companies.csv
  load_args: ${_pandas.load_args}
shuttles:
  <<: *csv
  filepath: data/01_raw/shuttles.csv
reviews:
  type: ${_templates.kind}
  filepath: ${_templates.root}/reviews.csv
_note: one
`,
		// Both files set _note: hidden keys never clash.
		"base/catalog_templates.yml": "_templates:\n  kind: pandas.ParquetDataset\n  root: data/02_intermediate\n_note: two\n",
		"base/parameters.yml":        "_defaults:\n  lr: 0.01\nmodel:\n  lr: ${_defaults.lr}\n",
	})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"companies": map[string]any{"type": "pandas.CSVDataset", "filepath": "data/01_raw/companies.csv", "load_args": map[string]any{"sep": ","}},
		"shuttles":  map[string]any{"type": "pandas.CSVDataset", "filepath": "data/01_raw/shuttles.csv"},
		"reviews":   map[string]any{"type": "pandas.ParquetDataset", "filepath": "data/02_intermediate/reviews.csv"},
	}
	if !reflect.DeepEqual(cfg.Catalog.Values, want) {
		t.Errorf("catalog = %#v\nwant %#v", cfg.Catalog.Values, want)
	}
	if got, _ := cfg.Parameters.Get("model.lr"); got != 0.01 {
		t.Errorf("model.lr = %v, want 0.01", got)
	}
	for _, k := range cfg.Parameters.Keys() {
		if isHidden(k) {
			t.Errorf("hidden key %q reached the parameters", k)
		}
	}
	// A template of another environment is not visible.
	dir = writeConf(t, map[string]string{
		"base/catalog.yml":  "_t: {type: json}\n",
		"local/catalog.yml": "ds: {type: '${_t.type}', filepath: x}\n",
	})
	if _, err := Load(Options{ConfSource: dir}); err == nil || !strings.Contains(err.Error(), "${_t.type}") {
		t.Errorf("template from another environment: err = %v", err)
	}
}

// Files and folders whose name starts with "." are not configuration:
// notebook checkpoints and editor backups must not load, nor clash.
func TestKedroHiddenFilesIgnored(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/parameters.yml":                         "a: 1\n",
		"base/.ipynb_checkpoints/parameters.yml":      "a: 2\n",
		"base/.hidden/catalog.yml":                    "ds: {type: json}\n",
		"base/catalog.yml":                            "ds: {type: text}\n",
		"base/.parameters_backup.yml":                 "a: 3\n",
		"base/parameters/.cache/parameters_extra.yml": "a: 4\n",
		"base/parameters/extra.yml":                   "b: 5\n",
		"local/.ipynb_checkpoints/catalog.yml":        "ds: {type: png}\n",
	})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.Parameters.Get("a"); got != int64(1) {
		t.Errorf("a = %v, want 1", got)
	}
	if got, _ := cfg.Parameters.Get("b"); got != int64(5) {
		t.Errorf("b = %v, want 5 (non-hidden file in a parameters folder)", got)
	}
	if got, _ := cfg.Catalog.Get("ds.type"); got != "text" {
		t.Errorf("ds.type = %v, want text", got)
	}
	for _, f := range cfg.Files {
		rel, _ := filepath.Rel(dir, f)
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.HasPrefix(part, ".") {
				t.Errorf("hidden file %s was read", rel)
			}
		}
	}
}

// A configuration source without base/ is an error naming the folder; a
// missing local/ is fine (the default run environment is optional).
func TestKedroMissingBase(t *testing.T) {
	dir := writeConf(t, map[string]string{"local/parameters.yml": "a: 1\n", "bsae/parameters.yml": "a: 1\n"})
	_, err := Load(Options{ConfSource: dir})
	if err == nil {
		t.Fatal("no error without base/")
	}
	for _, w := range []string{filepath.Join(dir, "base"), `base environment "base" not found`, `did you mean "bsae"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	dir = writeConf(t, map[string]string{"base/parameters.yml": "a: 1\n"})
	cfg, err := Load(Options{ConfSource: dir})
	if err != nil {
		t.Fatalf("missing local/: %v", err)
	}
	if got, _ := cfg.Parameters.Get("a"); got != int64(1) {
		t.Errorf("a = %v", got)
	}
}

// When several keys or file pairs clash within one environment, the error
// names every key and every pair, not only the first.
func TestKedroDuplicateKeysAllListed(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"base/catalog.yml":   "a: {type: json}\nb: {type: json}\nc: {type: json}\n_t: 1\n",
		"base/catalog_2.yml": "a: {type: json}\nb: {type: json}\n_t: 2\n",
		"base/catalog_3.yml": "c: {type: json}\nb: {type: json}\n",
	})
	_, err := Load(Options{ConfSource: dir})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	c1, c2, c3 := filepath.Join(dir, "base/catalog.yml"), filepath.Join(dir, "base/catalog_2.yml"), filepath.Join(dir, "base/catalog_3.yml")
	for _, w := range []string{
		"5 duplicate catalog keys in " + filepath.Join(dir, "base"),
		`duplicate catalog key "a": set in ` + c1 + ":1:1 and in " + c2 + ":1:1",
		`duplicate catalog key "b": set in ` + c1 + ":2:1 and in " + c2 + ":2:1",
		`duplicate catalog key "b": set in ` + c1 + ":2:1 and in " + c3 + ":2:1",
		`duplicate catalog key "c": set in ` + c1 + ":3:1 and in " + c3 + ":1:1",
		`duplicate catalog key "b": set in ` + c2 + ":2:1 and in " + c3 + ":2:1",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, `"_t"`) {
		t.Errorf("hidden key reported as duplicate:\n%s", msg)
	}
	// Parameters clash by leaf: two files may add keys under one mapping.
	dir = writeConf(t, map[string]string{
		"base/parameters.yml":   "m:\n  lr: 1\n  wd: 2\n  keep: 3\nx: 1\n",
		"base/parameters_b.yml": "m:\n  lr: 1\n  wd: 2\n  extra: 4\nx: 2\n",
	})
	_, err = Load(Options{ConfSource: dir})
	if err == nil {
		t.Fatal("no error for parameters")
	}
	for _, w := range []string{"3 duplicate parameters keys", `duplicate parameter "m.lr"`, `duplicate parameter "m.wd"`, `duplicate parameter "x"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
	if strings.Contains(err.Error(), "m.keep") || strings.Contains(err.Error(), "m.extra") {
		t.Errorf("non-clashing leaves reported:\n%s", err)
	}
}

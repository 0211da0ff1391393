package catalog

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/config"
)

// newCatalog builds a catalog from catalog YAML, with paths relative to
// a temp dir substituted for $DIR.
func newCatalog(t *testing.T, yml string, params string, opts Options) (*Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	conf, err := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(yml, "$DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.ParseFile("parameters.yml", []byte(params))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(conf, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

type meme struct {
	ID    int    `json:"id"`
	Text  string `json:"text"`
	Label int    `json:"label"`
}

func TestFactoryRanking(t *testing.T) {
	c, _ := newCatalog(t, `
"{split}_memes":
  type: jsonl
  filepath: data/{split}.jsonl
"{a}_{b}":
  type: json
  filepath: data/{a}/{b}.json
"train_memes_{x}":
  type: text
  filepath: t/{x}.txt
"{default}":
  type: memory
explicit_memes:
  type: csv
  filepath: e.csv
`, "", Options{})
	cases := []struct {
		name, kind, typ, path string
	}{
		{"explicit_memes", "explicit", "csv", "e.csv"},
		{"train_memes", "factory", "jsonl", "data/train.jsonl"},
		{"train_memes_big", "factory", "text", "t/big.txt"}, // 12 literal chars beat 6
		{"dev_seen_memes", "factory", "jsonl", "data/dev_seen.jsonl"},
		{"x_y", "factory", "json", "data/x/y.json"},
		{"plain", "memory", "", ""},
	}
	for _, cs := range cases {
		r, err := c.Resolve(cs.name)
		if err != nil {
			t.Fatalf("%s: %v", cs.name, err)
		}
		if r.Kind.String() != cs.kind {
			t.Errorf("%s: kind %s, want %s", cs.name, r.Kind, cs.kind)
		}
		if cs.typ != "" && (r.Spec.Type != cs.typ || r.Spec.Filepath != cs.path) {
			t.Errorf("%s: %s %s, want %s %s", cs.name, r.Spec.Type, r.Spec.Filepath, cs.typ, cs.path)
		}
	}
	if got := c.Patterns(); got[0] != "train_memes_{x}" || got[len(got)-1] != "{default}" {
		t.Errorf("pattern order %v", got)
	}
}

func TestTwoCatchAllsRejected(t *testing.T) {
	conf, _ := config.ParseFile("c.yml", []byte("\"{a}\": {type: json, filepath: a}\n\"{b}\": {type: json, filepath: b}\n"))
	if _, err := New(conf, nil, Options{}); err == nil || !strings.Contains(err.Error(), "catch-all") {
		t.Errorf("error = %v", err)
	}
}

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	c, _ := newCatalog(t, `
j: {type: json, filepath: $DIR/a/j.json, save_args: {indent: 2}}
l: {type: jsonl, filepath: $DIR/l.jsonl}
s: {type: text, filepath: $DIR/s.txt}
p: {type: png, filepath: $DIR/p.png}
c: {type: csv, filepath: $DIR/c.csv}
r: {type: csv, filepath: $DIR/r.csv}
f: {type: png_folder, filepath: $DIR/img}
`, "", Options{})
	memes := []meme{{1, "a cat", 0}, {2, "a dog", 1}}
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.NRGBA{200, 10, 20, 255})
	type sub struct {
		ID    string  `csv:"id"`
		Proba float64 `csv:"proba"`
		Label int     `csv:"label"`
	}
	rows := []sub{{"01", 0.25, 0}, {"02", 0.75, 1}}
	for name, v := range map[string]any{"j": map[string]int{"x": 1}, "l": memes, "s": "hello", "p": image.Image(img),
		"c": rows, "r": [][]string{{"a", "b"}, {"1", "2"}}, "f": map[string]image.Image{"42": img}} {
		if err := c.Save(ctx, name, v); err != nil {
			t.Fatalf("save %s: %v", name, err)
		}
	}
	check := func(name string, typ reflect.Type, want any) {
		t.Helper()
		got, err := c.Load(ctx, name, typ)
		if err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("load %s = %#v, want %#v", name, got, want)
		}
	}
	check("j", reflect.TypeFor[map[string]int](), map[string]int{"x": 1})
	check("l", reflect.TypeFor[[]meme](), memes)
	check("s", reflect.TypeFor[string](), "hello")
	check("c", reflect.TypeFor[[]sub](), rows)
	check("r", reflect.TypeFor[[][]string](), [][]string{{"a", "b"}, {"1", "2"}})
	got, err := c.Load(ctx, "p", reflect.TypeFor[image.Image]())
	if err != nil {
		t.Fatal(err)
	}
	if r, g, _, _ := got.(image.Image).At(1, 1).RGBA(); r>>8 != 200 || g>>8 != 10 {
		t.Errorf("png pixel = %v", got.(image.Image).At(1, 1))
	}
	folder, err := c.Load(ctx, "f", reflect.TypeFor[map[string]image.Image]())
	if err != nil || len(folder.(map[string]image.Image)) != 1 {
		t.Errorf("png_folder load = %v, %v", folder, err)
	}
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(mustPath(t, c, "c")), "c.csv"))
	if !strings.HasPrefix(string(b), "id,proba,label\n01,0.25,0\n") {
		t.Errorf("csv = %q", b)
	}
	// Streaming JSONL.
	seq, err := c.Load(ctx, "l", reflect.TypeFor[iter.Seq2[meme, error]]())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for m, err := range seq.(iter.Seq2[meme, error]) {
		if err != nil {
			t.Fatal(err)
		}
		if m != memes[n] {
			t.Errorf("streamed %v, want %v", m, memes[n])
		}
		n++
	}
	if n != 2 {
		t.Errorf("streamed %d lines", n)
	}
	if err := c.Save(ctx, "l", Seq(memes[:1])); err != nil {
		t.Fatal(err)
	}
	check("l", reflect.TypeFor[[]meme](), memes[:1])
}

func mustPath(t *testing.T, c *Catalog, name string) string {
	r, err := c.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return r.Spec.Filepath
}

func TestJSONLBadLine(t *testing.T) {
	c, dir := newCatalog(t, "l: {type: jsonl, filepath: $DIR/l.jsonl}\n", "", Options{})
	os.WriteFile(filepath.Join(dir, "l.jsonl"), []byte("{\"id\": 1}\n\n{\"id\": 2,}\n"), 0o644)
	_, err := c.Load(context.Background(), "l", reflect.TypeFor[[]meme]())
	var je *JSONLError
	if !errors.As(err, &je) || je.Line != 3 {
		t.Fatalf("error = %v, want a JSONLError at line 3", err)
	}
	if !strings.Contains(err.Error(), "l.jsonl:3:") || !strings.Contains(err.Error(), `dataset "l"`) {
		t.Errorf("error %q lacks file:line or dataset name", err)
	}
}

func TestMissingFile(t *testing.T) {
	c, dir := newCatalog(t, "train: {type: jsonl, filepath: $DIR/none.jsonl}\n", "", Options{})
	_, err := c.Load(context.Background(), "train", reflect.TypeFor[[]meme]())
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"train"`) || !strings.Contains(err.Error(), filepath.Join(dir, "none.jsonl")) {
		t.Errorf("error = %v", err)
	}
	if ok, err := c.Exists("train"); ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
}

func TestCheck(t *testing.T) {
	c, _ := newCatalog(t, `
memes: {type: jsonl, filepath: m.jsonl}
pic: {type: png, filepath: p.png}
bad: {type: jsnol, filepath: b.json}
args: {type: json, filepath: a.json, save_args: {indnet: 2}}
`, "synthetic:\n  num_memes: 3\n", Options{})
	type synth struct {
		NumMemes int `yaml:"num_memes"`
	}
	type other struct {
		Count int
	}
	cases := []struct {
		name string
		typ  reflect.Type
		want string // "" = ok
	}{
		{"memes", reflect.TypeFor[[]meme](), ""},
		{"memes", reflect.TypeFor[meme](), "loads []T or iter.Seq2"},
		{"pic", reflect.TypeFor[image.Image](), ""},
		{"pic", reflect.TypeFor[string](), "supports image.Image"},
		{"bad", reflect.TypeFor[int](), `unknown dataset type "jsnol" (did you mean "jsonl"?)`},
		{"args", reflect.TypeFor[int](), `unknown parameter (did you mean "indent"?)`},
		{"params:synthetic", reflect.TypeFor[synth](), ""},
		{"params:synthetic", reflect.TypeFor[other](), `unknown parameter`},
		{"params:synthetc", reflect.TypeFor[synth](), `did you mean "synthetic"`},
		{"intermediate", reflect.TypeFor[chan int](), ""},
	}
	for _, cs := range cases {
		err := c.Check(cs.name, cs.typ)
		switch {
		case cs.want == "" && err != nil:
			t.Errorf("Check(%s, %v) = %v", cs.name, cs.typ, err)
		case cs.want != "" && (err == nil || !strings.Contains(err.Error(), cs.want)):
			t.Errorf("Check(%s, %v) = %v, want %q", cs.name, cs.typ, err, cs.want)
		}
	}
	if err := c.Check("bad", reflect.TypeFor[int]()); err == nil || !strings.Contains(err.Error(), "catalog.yml:4:") {
		t.Errorf("unknown type error %v lacks position", err)
	}
}

func TestVersioned(t *testing.T) {
	ctx := context.Background()
	yml := "m: {type: json, filepath: $DIR/model.json, versioned: true}\n"
	c1, dir := newCatalog(t, yml, "", Options{SaveVersion: "2026-01-01T10.00.00.000Z"})
	if ok, _ := c1.Exists("m"); ok {
		t.Error("exists before save")
	}
	if err := c1.Save(ctx, "m", 1); err != nil {
		t.Fatal(err)
	}
	if err := c1.Save(ctx, "m", 1); err == nil || !strings.Contains(err.Error(), "must not exist") {
		t.Errorf("second save under one version: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.json", "2026-01-01T10.00.00.000Z", "model.json")); err != nil {
		t.Fatal(err)
	}
	conf, _ := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(yml, "$DIR", dir)))
	c2, _ := New(conf, nil, Options{SaveVersion: "2026-01-02T10.00.00.000Z"})
	if err := c2.Save(ctx, "m", 2); err != nil {
		t.Fatal(err)
	}
	c3, _ := New(conf, nil, Options{})
	if v, _ := c3.Load(ctx, "m", reflect.TypeFor[int]()); v != 2 {
		t.Errorf("latest = %v, want 2", v)
	}
	c4, _ := New(conf, nil, Options{LoadVersions: map[string]string{"m": "2026-01-01T10.00.00.000Z"}})
	if v, _ := c4.Load(ctx, "m", reflect.TypeFor[int]()); v != 1 {
		t.Errorf("pinned = %v, want 1", v)
	}
	if _, err := New(conf, nil, Options{LoadVersions: map[string]string{"m": "../etc"}}); err == nil {
		t.Error("unsafe load version accepted")
	}
}

func TestMemoryAndParams(t *testing.T) {
	ctx := context.Background()
	c, _ := newCatalog(t, "", "a:\n  b: 2\n", Options{})
	if err := c.Save(ctx, "x", []int{1}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Exists("x"); !ok {
		t.Error("memory dataset does not exist after save")
	}
	v, err := c.Load(ctx, "x", reflect.TypeFor[[]int]())
	if err != nil || v.([]int)[0] != 1 {
		t.Errorf("load = %v, %v", v, err)
	}
	c.Release("x")
	if _, err := c.Load(ctx, "x", reflect.TypeFor[[]int]()); err == nil {
		t.Error("released dataset still loads")
	}
	if err := c.Save(ctx, "x", nil); err == nil {
		t.Error("saving nil allowed")
	}
	b, err := Load(ctx, c, Param[int]("a.b"))
	if err != nil || b != 2 {
		t.Errorf("param = %v, %v", b, err)
	}
}

func TestUnknownTypeAtResolve(t *testing.T) {
	c, _ := newCatalog(t, "x: {type: lmdb_nope, filepath: f}\n", "", Options{})
	_, err := c.Load(context.Background(), "x", reflect.TypeFor[int]())
	if err == nil || !strings.Contains(err.Error(), "unknown dataset type") {
		t.Errorf("error = %v", err)
	}
}

func TestFormatListErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		formats []Format
		want    string
	}{
		{"duplicate", append(Builtin(), Format{Name: "json", New: newJSON}), `"json" given twice`},
		{"no constructor", []Format{{Name: "x"}}, `"x" needs a Name and a New function`},
		{"no name", []Format{{New: newJSON}}, "needs a Name"},
	} {
		if _, err := New(nil, nil, Options{Formats: c.formats}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// Only the formats passed are known.
	c2, _ := newCatalog(t, "x: {type: json, filepath: f}\n", "", Options{Formats: []Format{{Name: "text", New: newText}}})
	if _, err := c2.Load(context.Background(), "x", reflect.TypeFor[int]()); err == nil || !strings.Contains(err.Error(), "known: text") {
		t.Errorf("json not passed: error %v, want it unknown", err)
	}
}

// FuzzReadJSONL checks the JSONL reader on arbitrary bytes: no panics,
// and errors always carry a line number within the input.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte("{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2}\n"))
	f.Add([]byte("\n\n{bad\n"))
	f.Add([]byte("{\"id\": \"x\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		n := 0
		err := ReadJSONL(bytes.NewReader(data), "f.jsonl", func(m meme) error { n++; return nil })
		var je *JSONLError
		if err != nil && (!errors.As(err, &je) || je.Line < 1 || je.Line > lines+1) {
			t.Errorf("error %v has no valid line (input has %d lines)", err, lines)
		}
		if n > lines {
			t.Errorf("%d records from %d lines", n, lines)
		}
	})
}

// TestArgsOfDottedNames is a regression test: save_args and load_args of
// entries whose names contain dots (namespaced entries and factory
// matches such as "{pipeline}.metrics") were looked up by a dotted path
// that split the name, so they were silently ignored.
func TestArgsOfDottedNames(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, `
ns.report:
  type: json
  filepath: $DIR/ns/report.json
  save_args: {indent: 2}
"{pipeline}.metrics":
  type: json
  filepath: $DIR/{pipeline}/metrics.json
  save_args: {indent: 3}
"{pipeline}.strict":
  type: json
  filepath: $DIR/{pipeline}/strict.json
  load_args: {disallow_unknown_fields: true}
bad.args:
  type: json
  filepath: $DIR/bad.json
  save_args: {indnet: 2}
`, "", Options{})
	v := map[string]int{"a": 1}
	tests := []struct{ name, file, want string }{
		{"ns.report", "ns/report.json", "{\n  \"a\": 1\n}\n"},
		{"train.metrics", "train/metrics.json", "{\n   \"a\": 1\n}\n"},
		{"vilbert.x.metrics", "vilbert.x/metrics.json", "{\n   \"a\": 1\n}\n"},
	}
	for _, tc := range tests {
		if err := c.Save(ctx, tc.name, v); err != nil {
			t.Fatalf("save %s: %v", tc.name, err)
		}
		b, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%s wrote %q, want %q", tc.name, b, tc.want)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "strict.json"), []byte(`{"a": 1, "b": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	type onlyA struct{ A int }
	if _, err := c.Load(ctx, "p.strict", reflect.TypeFor[onlyA]()); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("load_args of a factory match ignored: %v", err)
	}
	err := c.Check("bad.args", reflect.TypeFor[map[string]int]())
	if err == nil || !strings.Contains(err.Error(), "catalog.yml:") || !strings.Contains(err.Error(), `did you mean "indent"`) {
		t.Errorf("unknown save arg of a dotted name: %v", err)
	}
}

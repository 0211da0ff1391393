package catalog

import (
	"strings"
	"testing"

	"mmc/config"
)

// Kedro's catalog resolver rejects a dataset factory whose configuration
// uses a placeholder its pattern does not declare ("Keys used in the
// configuration ... should present in the dataset factory pattern
// name"): such a placeholder could never be filled and would stay as
// literal text in a path. Issue 14 item 10.
func TestFactoryUndeclaredPlaceholders(t *testing.T) {
	cases := []struct {
		name, yml string
		want      []string
	}{
		{"filepath", `
"{dataset}s":
  type: json
  filepath: path/{user}/data.json
`, []string{"catalog.yml:2:1", `dataset factory "{dataset}s"`, "{user} in filepath", "the pattern declares {dataset}"}},
		{"nested load_args and save_args", `
"{split}_memes":
  type: jsonl
  filepath: data/{split}.jsonl
  load_args:
    options:
      root: "{root}/x"
  save_args: {suffix: "{split}-{fmt}"}
`, []string{"{root} in load_args.options.root", "{fmt} in save_args.suffix", "the pattern declares {split}"}},
		{"list values", `
"{a}_{b}":
  type: json
  filepath: d/{a}/{b}.json
  metadata:
    columns: [x, "{a}", "{c}"]
`, []string{"{c} in metadata.columns[2]", "the pattern declares {a}, {b}"}},
		{"catch-all", `
"{default}":
  type: json
  filepath: data/{name}.json
`, []string{"{name} in filepath"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf, err := config.ParseFile("catalog.yml", []byte(c.yml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(conf, nil, Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if c.name == "list values" && strings.Contains(err.Error(), "{a} in") {
				t.Errorf("declared placeholder reported: %v", err)
			}
		})
	}
	// Declared placeholders everywhere are fine and are all filled; an
	// explicit (non-factory) entry is not a pattern and is left alone.
	c, _ := newCatalog(t, `
"{split}_{kind}":
  type: json
  filepath: data/{split}/{kind}.json
  load_args: {tag: "{kind}"}
  metadata:
    viz: {layer: "{split}"}
    list: ["{split}", "{kind}"]
literal:
  type: json
  filepath: "data/{not_a_pattern}.json"
`, "", Options{})
	res, err := c.Resolve("dev_report")
	if err != nil {
		t.Fatal(err)
	}
	if res.Spec.Filepath != "data/dev/report.json" || res.Spec.LoadArgs["tag"] != "report" {
		t.Errorf("resolved %+v", res.Spec)
	}
	if l := res.Spec.Metadata["list"].([]any); l[0] != "dev" || l[1] != "report" {
		t.Errorf("list values %v", l)
	}
}

// FuzzFactoryPattern feeds arbitrary pattern names and filepaths (both
// come from a user's catalog.yml) to the factory compiler: nothing may
// panic, and a pattern that is accepted resolves a matching name to its
// filepath with every placeholder filled (none left as literal text).
func FuzzFactoryPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"{split}_memes", "data/{split}.jsonl"},
		{"{dataset}s", "path/{user}/data"},
		{"{a}_{b}", "d/{a}/{b}.json"},
		{"{default}", "{default}"},
		{"x{", "y"},
		{"{a}{b}", "{{a}}/{b}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, fp string) {
		conf := config.NewTree()
		conf.Values[key] = map[string]any{"type": "json", "filepath": fp}
		c, err := New(conf, nil, Options{})
		if err != nil || len(c.patterns) != 1 {
			return
		}
		p := c.patterns[0]
		// A name the pattern matches: each placeholder filled with "v<i>".
		name := key
		for i, fld := range p.fields {
			name = strings.Replace(name, "{"+fld+"}", "v"+string(rune('0'+i%10)), 1)
		}
		vals, ok := p.match(name)
		if !ok {
			return // a later duplicate placeholder made the name unmatchable
		}
		res, err := c.Resolve(name)
		if err != nil || res.Kind != Factory {
			return // an empty filepath, or a name another rule takes
		}
		want := patternField.ReplaceAllStringFunc(fp, func(ph string) string {
			v, declared := vals[ph[1:len(ph)-1]]
			if !declared {
				t.Fatalf("pattern %q accepted with undeclared %s in filepath %q", key, ph, fp)
			}
			return v
		})
		if res.Spec.Filepath != want {
			t.Errorf("pattern %q, name %q: filepath %q, want %q", key, name, res.Spec.Filepath, want)
		}
	})
}

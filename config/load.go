package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kind names one family of configuration files.
type Kind string

// The configuration kinds; each is read from the files whose name, or one
// of whose directories, starts with the kind (Kedro's "parameters*",
// "parameters*/**", "**/parameters*" patterns).
const (
	Parameters Kind = "parameters"
	Catalog    Kind = "catalog"
	Globals    Kind = "globals"
)

// Options say where configuration lives and which environment to use.
type Options struct {
	// ConfSource is the configuration directory; "conf" when empty.
	ConfSource string
	// BaseEnv is the environment every run reads first; "base" when empty.
	BaseEnv string
	// Env is the run environment layered over BaseEnv; "local" when empty.
	// It may be missing on disk only when it is "local".
	Env string
	// RuntimeParams are the --params values (see ParseParams). They are
	// set over the parameters and feed ${runtime_params:...}.
	RuntimeParams map[string]any
}

// Config is the loaded, merged and interpolated configuration.
type Config struct {
	Parameters *Tree
	Catalog    *Tree
	Globals    *Tree
	// Credentials are the run environment's credentials*.yml (never
	// the base's); see credentials.go.
	Credentials *Tree
	// Env is the run environment that was layered over the base.
	Env string
	// Files lists every file read, in load order.
	Files []string
	// UnknownRuntimeParams are --params keys that neither override an
	// existing parameter nor feed a ${runtime_params:...}: likely typos
	// (a node decoding its parameters strictly still rejects them).
	UnknownRuntimeParams []string
}

// Load reads the base environment, then the run environment, and merges
// them the way Kedro's OmegaConfigLoader does:
//
//  1. Globals of every environment are resolved within their environment
//     and merged (the run environment replaces whole top-level keys).
//  2. Within each environment, the parameters files are merged, the
//     runtime parameters are set over them, and then "${...}" is resolved
//     against that environment alone (so a base file's "${x}" sees base's
//     x, and "--params x=1" changes what "${x}" gives). Catalog files are
//     merged and resolved the same way, without runtime parameters.
//  3. Hidden ("_") top-level keys, which may hold templates referenced as
//     "${_template.key}" from any file of the same environment and kind,
//     are dropped after resolving.
//  4. The run environment replaces whole top-level keys of the base.
func Load(opts Options) (*Config, error) {
	if opts.ConfSource == "" {
		opts.ConfSource = "conf"
	}
	if opts.BaseEnv == "" {
		opts.BaseEnv = "base"
	}
	if opts.Env == "" {
		opts.Env = "local"
	}
	if st, err := os.Stat(opts.ConfSource); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("configuration source %q is not a directory", opts.ConfSource)
	}
	baseDir := filepath.Join(opts.ConfSource, opts.BaseEnv)
	if st, err := os.Stat(baseDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("base environment %q not found: no directory %s (every configuration source needs one)%s",
			opts.BaseEnv, baseDir, DidYouMean(opts.BaseEnv, listEnvs(opts.ConfSource)))
	}
	envs := []string{opts.BaseEnv}
	if opts.Env != opts.BaseEnv {
		dir := filepath.Join(opts.ConfSource, opts.Env)
		if _, err := os.Stat(dir); err != nil {
			if opts.Env != "local" {
				return nil, fmt.Errorf("environment %q not found: no directory %s%s", opts.Env, dir, DidYouMean(opts.Env, listEnvs(opts.ConfSource)))
			}
		} else {
			envs = append(envs, opts.Env)
		}
	}
	for k := range opts.RuntimeParams {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("--params: %w", err)
		}
	}
	cfg := &Config{Env: opts.Env}
	// raw[kind][i] is environment envs[i]'s merged, unresolved files.
	raw := map[Kind][]*Tree{}
	for _, kind := range []Kind{Globals, Parameters, Catalog} {
		for _, env := range envs {
			t, files, err := loadEnv(filepath.Join(opts.ConfSource, env), kind)
			if err != nil {
				return nil, err
			}
			cfg.Files = append(cfg.Files, files...)
			raw[kind] = append(raw[kind], t)
		}
	}

	globals := NewTree()
	for _, t := range raw[Globals] {
		// "${x}" in globals refers to the same environment's globals;
		// "${globals:x}" also sees the globals of the environments below.
		view := NewTree()
		mergeEnv(view, globals.Clone())
		mergeEnv(view, t)
		r := &resolver{kind: Globals, tree: t, globals: view}
		if err := r.resolveTree(); err != nil {
			return nil, err
		}
		dropHidden(t)
		mergeEnv(globals, t)
	}

	// fileParams is the parameters as the files alone set them: a runtime
	// parameter found there overrides one, so it is no typo.
	fileParams := NewTree()
	for _, t := range raw[Parameters] {
		mergeEnv(fileParams, t.Clone())
	}
	dropHidden(fileParams)
	// used[kind][i] maps each top-level key of environment i to the
	// runtime parameters its value read through ${runtime_params:...}.
	used := map[Kind][]map[string]map[string]bool{}
	merged := map[Kind]*Tree{}
	for _, kind := range []Kind{Parameters, Catalog} {
		merged[kind] = NewTree()
		for i, t := range raw[kind] {
			var added []string
			if kind == Parameters {
				for _, k := range sortedKeys(opts.RuntimeParams) {
					top, _, _ := strings.Cut(k, ".")
					if _, ok := t.Values[top]; !ok {
						added = append(added, top)
					}
					t.Set(k, deepCopy(opts.RuntimeParams[k]), Pos{File: "--params"})
				}
			}
			r := &resolver{kind: kind, tree: t, globals: globals, runtime: opts.RuntimeParams, usedBy: map[string]map[string]bool{}}
			if err := r.resolveTree(); err != nil {
				return nil, err
			}
			if i > 0 {
				// A top-level key that only --params put into this
				// environment must not replace the base's whole key
				// (--params model.lr=1 keeps the base's other model keys).
				for _, top := range added {
					delete(t.Values, top)
					delete(t.Sources, top)
					t.dropSources(top)
				}
			}
			used[kind] = append(used[kind], r.usedBy)
			dropHidden(t)
			mergeEnv(merged[kind], t)
		}
	}
	usedRuntime := map[string]bool{}
	for _, kind := range []Kind{Parameters, Catalog} {
		for i, byKey := range used[kind] {
			for top, keys := range byKey {
				// Count a read only where its value survives the merge:
				// a hidden template (read through references), or a key
				// no later environment replaces.
				if !isHidden(top) && overriddenLater(raw[kind][i+1:], top) {
					continue
				}
				for k := range keys {
					usedRuntime[k] = true
				}
			}
		}
	}
	params := merged[Parameters]
	for _, k := range sortedKeys(opts.RuntimeParams) {
		if _, exists := fileParams.Get(k); !exists && !usedRuntime[k] {
			cfg.UnknownRuntimeParams = append(cfg.UnknownRuntimeParams, k)
		}
		// Every environment already holds it; set it once more in case
		// no environment had a parameters file at all.
		params.Set(k, deepCopy(opts.RuntimeParams[k]), Pos{File: "--params"})
	}
	cfg.Parameters, cfg.Catalog, cfg.Globals = params, merged[Catalog], globals
	if err := checkNoInlineCredentials(raw[Catalog][0]); err != nil {
		return nil, err
	}
	creds, files, err := loadCredentials(opts.ConfSource, opts.BaseEnv, envs)
	if err != nil {
		return nil, err
	}
	cfg.Credentials = creds
	cfg.Files = append(cfg.Files, files...)
	return cfg, nil
}

// mergeEnv layers src over dst with Kedro's destructive strategy: each
// top-level key of src replaces the whole value of dst's.
func mergeEnv(dst, src *Tree) {
	for _, k := range src.Keys() {
		dst.Values[k] = src.Values[k]
		dst.dropSources(k)
		delete(dst.Sources, k)
	}
	for p, pos := range src.Sources {
		dst.Sources[p] = pos
	}
}

// overriddenLater reports whether a later environment sets top-level key k.
func overriddenLater(later []*Tree, k string) bool {
	for _, t := range later {
		if _, ok := t.Values[k]; ok {
			return true
		}
	}
	return false
}

// dropHidden removes the "_" top-level keys (templates, anchors).
func dropHidden(t *Tree) {
	for k := range t.Values {
		if isHidden(k) {
			delete(t.Values, k)
			delete(t.Sources, k)
			t.dropSources(k)
		}
	}
}

func listEnvs(src string) []string {
	entries, _ := os.ReadDir(src)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// loadEnv reads and merges every file of one kind in one environment.
// Hidden ("_") top-level keys are kept, for interpolation, and may appear
// in several files (the later file, in name order, wins); any other key
// set by two files is an error that lists every such key and file pair.
func loadEnv(dir string, kind Kind) (*Tree, []string, error) {
	files, err := matchFiles(dir, kind)
	if err != nil {
		return nil, nil, err
	}
	trees := make([]*Tree, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
		if trees[i], err = ParseFile(f, data); err != nil {
			return nil, nil, err
		}
	}
	var dups []string
	for i := range trees {
		for j := i + 1; j < len(trees); j++ {
			dups = append(dups, duplicates(trees[i], trees[j], kind)...)
		}
	}
	switch {
	case len(dups) == 1:
		return nil, nil, fmt.Errorf("%s", dups[0])
	case len(dups) > 1:
		return nil, nil, fmt.Errorf("%d duplicate %s keys in %s:\n  %s", len(dups), kind, dir, strings.Join(dups, "\n  "))
	}
	merged := NewTree()
	for _, t := range trees {
		mergeSameEnv(merged, t)
	}
	return merged, files, nil
}

// matchFiles lists, sorted, the .yml/.yaml/.json files under dir whose
// base name or one of whose directories (relative to dir) starts with
// the kind's name. Hidden files and folders (a name starting with ".",
// such as .ipynb_checkpoints) are not configuration and are skipped.
func matchFiles(dir string, kind Kind) ([]string, error) {
	var out []string
	if _, err := os.Stat(dir); err != nil {
		return nil, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan config %s: %w", path, err)
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch filepath.Ext(path) {
		case ".yml", ".yaml", ".json":
		default:
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.HasPrefix(part, string(kind)) {
				out = append(out, path)
				break
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// duplicates lists, one message each, the keys both a and b set: top-level
// keys, or for parameters the leaves (two files may each add keys under
// one mapping). Hidden keys never clash.
func duplicates(a, b *Tree, kind Kind) []string {
	var out []string
	var walk func(path string, av, bv any)
	walk = func(path string, av, bv any) {
		am, aok := av.(map[string]any)
		bm, bok := bv.(map[string]any)
		if kind == Parameters && aok && bok {
			for _, k := range sortedKeys(bm) {
				if x, dup := am[k]; dup {
					walk(path+"."+k, x, bm[k])
				}
			}
			return
		}
		what := kind + " key"
		if kind == Parameters {
			what = "parameter"
		}
		out = append(out, fmt.Sprintf("duplicate %s %q: set in %s and in %s", what, path, a.Source(path), b.Source(path)))
	}
	for _, k := range b.Keys() {
		if x, dup := a.Values[k]; dup && !isHidden(k) {
			walk(k, x, b.Values[k])
		}
	}
	return out
}

// mergeSameEnv adds src to dst, which share no key but hidden ones and,
// for parameters, mappings: those merge key by key.
func mergeSameEnv(dst, src *Tree) {
	var merge func(dm, sm map[string]any, hidden bool)
	merge = func(dm, sm map[string]any, hidden bool) {
		for k, sv := range sm {
			dv, ok := dm[k]
			dsub, dok := dv.(map[string]any)
			ssub, sok := sv.(map[string]any)
			if ok && dok && sok && !(hidden && isHidden(k)) {
				merge(dsub, ssub, false)
				continue
			}
			dm[k] = sv
		}
	}
	for k := range src.Values {
		if _, ok := dst.Values[k]; ok && isHidden(k) {
			delete(dst.Sources, k)
			dst.dropSources(k)
		}
	}
	merge(dst.Values, src.Values, true)
	for p, pos := range src.Sources {
		if _, ok := dst.Sources[p]; !ok {
			dst.Sources[p] = pos
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty key")
	}
	for _, part := range strings.Split(k, ".") {
		if part == "" {
			return fmt.Errorf("key %q has an empty part", k)
		}
	}
	return nil
}

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
	// Env is the run environment that was layered over the base.
	Env string
	// Files lists every file read, in load order.
	Files []string
	// UnknownRuntimeParams are --params keys that neither override an
	// existing parameter nor feed a ${runtime_params:...}: likely typos
	// (a node decoding its parameters strictly still rejects them).
	UnknownRuntimeParams []string
}

// Load reads the base environment, then the run environment, merges them
// and resolves interpolations and runtime parameters.
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
	cfg := &Config{Env: opts.Env}
	trees := map[Kind]*Tree{}
	for _, kind := range []Kind{Globals, Parameters, Catalog} {
		var merged *Tree
		for _, env := range envs {
			t, files, err := loadEnv(filepath.Join(opts.ConfSource, env), kind)
			if err != nil {
				return nil, err
			}
			cfg.Files = append(cfg.Files, files...)
			if merged == nil {
				merged = t
				continue
			}
			for _, k := range t.Keys() {
				merged.Values[k] = t.Values[k]
				merged.dropSources(k)
				delete(merged.Sources, k)
			}
			for p, pos := range t.Sources {
				merged.Sources[p] = pos
			}
		}
		trees[kind] = merged
	}
	for k := range opts.RuntimeParams {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("--params: %w", err)
		}
	}
	r := &resolver{globals: trees[Globals], runtime: opts.RuntimeParams, usedRuntime: map[string]bool{}}
	for _, kind := range []Kind{Globals, Parameters, Catalog} {
		r.kind, r.tree = kind, trees[kind]
		if err := r.resolveTree(); err != nil {
			return nil, err
		}
	}
	params := trees[Parameters]
	for _, k := range sortedKeys(opts.RuntimeParams) {
		if _, exists := params.Get(k); !exists && !r.usedRuntime[k] {
			cfg.UnknownRuntimeParams = append(cfg.UnknownRuntimeParams, k)
		}
		params.Set(k, deepCopy(opts.RuntimeParams[k]), Pos{File: "--params"})
	}
	cfg.Parameters, cfg.Catalog, cfg.Globals = params, trees[Catalog], trees[Globals]
	return cfg, nil
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
func loadEnv(dir string, kind Kind) (*Tree, []string, error) {
	files, err := matchFiles(dir, kind)
	if err != nil {
		return nil, nil, err
	}
	merged := NewTree()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
		t, err := ParseFile(f, data)
		if err != nil {
			return nil, nil, err
		}
		for k := range t.Values {
			if isHidden(k) {
				delete(t.Values, k)
				delete(t.Sources, k)
				t.dropSources(k)
			}
		}
		if err := mergeSameEnv(merged, t, kind); err != nil {
			return nil, nil, err
		}
	}
	return merged, files, nil
}

// matchFiles lists, sorted, the .yml/.yaml/.json files under dir whose
// base name or one of whose directories (relative to dir) starts with
// the kind's name.
func matchFiles(dir string, kind Kind) ([]string, error) {
	var out []string
	if _, err := os.Stat(dir); err != nil {
		return nil, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan config %s: %w", path, err)
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

// mergeSameEnv adds src to dst. A top-level key in both is an error,
// except for parameters, where mappings merge and only a leaf set twice
// is an error.
func mergeSameEnv(dst, src *Tree, kind Kind) error {
	for _, k := range src.Keys() {
		if _, dup := dst.Values[k]; !dup {
			dst.Values[k] = src.Values[k]
			continue
		}
		if kind != Parameters {
			return fmt.Errorf("duplicate %s key %q: set in %s and in %s", kind, k, dst.Source(k), src.Source(k))
		}
		if err := mergeLeaves(dst, src, k); err != nil {
			return err
		}
	}
	for p, pos := range src.Sources {
		if _, ok := dst.Sources[p]; !ok {
			dst.Sources[p] = pos
		}
	}
	return nil
}

func mergeLeaves(dst, src *Tree, path string) error {
	dv, _ := dst.Get(path)
	sv, _ := src.Get(path)
	dm, dok := dv.(map[string]any)
	sm, sok := sv.(map[string]any)
	if !dok || !sok {
		return fmt.Errorf("duplicate parameter %q: set in %s and in %s", path, dst.Source(path), src.Source(path))
	}
	for _, k := range sortedKeys(sm) {
		if _, dup := dm[k]; dup {
			if err := mergeLeaves(dst, src, path+"."+k); err != nil {
				return err
			}
			continue
		}
		dm[k] = sm[k]
	}
	return nil
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

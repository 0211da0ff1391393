package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layers are the import rules ARCHITECTURE.md states: each group of
// packages and the mmc packages it may import. A pattern ending in
// "/..." matches a folder and everything below it; any other pattern
// matches one package.
var layers = []struct {
	name     string
	packages []string
	may      []string
}{
	{"ml (numeric library: never the framework or the application)",
		[]string{"mmc/ml/..."},
		[]string{"mmc/ml/...", "mmc/features", "mmc/memes", "mmc/pickle", "mmc/atomicfile", "mmc/fault"}},
	{"framework (knows nothing of memes, models or features)",
		[]string{"mmc/flow", "mmc/config", "mmc/catalog", "mmc/viz", "mmc/cli", "mmc/runs", "mmc/export"},
		[]string{"mmc/flow", "mmc/config", "mmc/catalog", "mmc/viz", "mmc/runs", "mmc/atomicfile", "mmc/fault", "mmc/export"}},
	{"data libraries (records, stores, extractors, generators)",
		[]string{"mmc/features/...", "mmc/memes", "mmc/synth", "mmc/pickle", "mmc/plot", "mmc/progress", "mmc/atomicfile", "mmc/fault"},
		[]string{"mmc/features/...", "mmc/memes", "mmc/synth", "mmc/pickle", "mmc/atomicfile", "mmc/fault", "mmc/ml/..."}},
	{"record types (imported by ml: import no ml themselves)",
		[]string{"mmc/features", "mmc/memes"},
		[]string{}},
	{"catalog adapters (formats for the application's types)",
		[]string{"mmc/catalog/featureds", "mmc/catalog/formats"},
		[]string{"mmc/catalog", "mmc/catalog/...", "mmc/features/...", "mmc/memes", "mmc/synth", "mmc/ml/...", "mmc/atomicfile", "mmc/fault", "mmc/partition"}},
	{"nodes (plain functions: no framework, no wiring)",
		[]string{"mmc/nodes"},
		[]string{"mmc/ml/...", "mmc/features/...", "mmc/memes", "mmc/synth", "mmc/plot", "mmc/progress", "mmc/atomicfile", "mmc/fault", "mmc/partition"}},
	{"pipelines (wiring: framework handles over nodes)",
		[]string{"mmc/pipelines"},
		[]string{"mmc/flow", "mmc/catalog", "mmc/nodes", "mmc/ml/...", "mmc/features/...", "mmc/memes", "mmc/synth", "mmc/partition"}},
	{"partition (sharded-work types: imports nothing of mmc)",
		[]string{"mmc/partition"},
		[]string{}},
}

func matches(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func matchesAny(patterns []string, pkg string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(p, pkg) })
}

// TestImportDirections checks every non-test Go file of the module
// (bench/ and scripts/ aside: tools, not parts) against layers.
func TestImportDirections(t *testing.T) {
	imports := map[string]map[string]bool{} // package → mmc imports
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case "bench", "scripts", "data", "conf", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := "mmc"
		if dir := filepath.ToSlash(filepath.Dir(path)); dir != "." {
			pkg += "/" + dir
		}
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "mmc" || strings.HasPrefix(p, "mmc/") {
				imports[pkg][p] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"mmc/ml/models", "mmc/nodes", "mmc/flow", "mmc/features/extract"} {
		if imports[must] == nil {
			t.Fatalf("package %s not found: the walk is broken", must)
		}
	}
	for pkg, imps := range imports {
		for _, l := range layers {
			if !matchesAny(l.packages, pkg) {
				continue
			}
			for imp := range imps {
				if !matchesAny(l.may, imp) && !(matchesAny(l.packages, imp) && len(l.may) > 0) {
					t.Errorf("%s imports %s: not allowed for %s (may import %s)", pkg, imp, l.name, strings.Join(l.may, ", "))
				}
			}
		}
	}
}

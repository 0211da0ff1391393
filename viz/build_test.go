package viz

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree maps every file under dir (slash paths) to its content (a link to
// "-> target").
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "-> " + target
			return err
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestBuildRefusesWhatMmcDidNotWrite is issue 16 item 2: `viz --build
// PATH` used to delete whatever was at PATH. Each case must fail naming
// the culprit and leave every byte where it was.
func TestBuildRefusesWhatMmcDidNotWrite(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"a file", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("thesis draft"), 0o644)
		}, "it is a file"},
		{"a directory of someone else's files", func(t *testing.T, p string) {
			writeFiles(t, p, map[string]string{"notes.txt": "keep me", "photos/a.jpg": "jpeg"})
		}, "notes.txt, photos"},
		{"a previous build with a file added", func(t *testing.T, p string) {
			if err := Build(p, sampleGraph()); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, p, map[string]string{"api/CNAME": "example.org"})
		}, "CNAME was not written by mmc viz --build"},
		{"a previous build with an edited page", func(t *testing.T, p string) {
			if err := Build(p, sampleGraph()); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, p, map[string]string{"index.html": "<p>my edits</p>"})
		}, "index.html was changed after mmc built it"},
		{"a previous build holding a symlink", func(t *testing.T, p string) {
			if err := Build(p, sampleGraph()); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc", filepath.Join(p, "etc")); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"a marker written by something else", func(t *testing.T, p string) {
			writeFiles(t, p, map[string]string{BuildMarker: `{"tool":"other","files":{}}`, "data.csv": "1,2"})
		}, "is not a marker written by mmc viz --build"},
		{"a marker that is not JSON", func(t *testing.T, p string) {
			writeFiles(t, p, map[string]string{BuildMarker: "#", "data.csv": "1,2"})
		}, "is not a marker written by mmc viz --build"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			p := filepath.Join(parent, "site")
			c.prepare(t, p)
			var before map[string]string
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				before = tree(t, p)
			}
			beforeFile, _ := os.ReadFile(p)
			g := sampleGraph()
			g.Nodes = g.Nodes[:2]
			err := Build(p, g)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Build = %v, want an error naming %s and saying %q", err, p, c.want)
			}
			if before != nil {
				if after := tree(t, p); !mapsEqual(before, after) {
					t.Errorf("refused build changed the directory: %d files before, %d after", len(before), len(after))
				}
			} else if after, _ := os.ReadFile(p); string(after) != string(beforeFile) {
				t.Errorf("refused build changed the file: %q", after)
			}
			if got := names(t, parent); !slices.Equal(got, []string{"site"}) {
				t.Errorf("leftovers next to the site: %v", got)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestBuildIntoEmptyMissingAndLinkedDirectories(t *testing.T) {
	parent := t.TempDir()
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o755)
	if err := Build(empty, sampleGraph()); err != nil {
		t.Fatalf("empty directory: %v", err)
	}
	if err := Build(filepath.Join(parent, "a", "b", "new"), sampleGraph()); err != nil {
		t.Fatalf("missing directory: %v", err)
	}
	// A trailing slash names the same folder.
	if err := Build(filepath.Join(parent, "a", "b", "new")+"/", sampleGraph()); err != nil {
		t.Fatalf("trailing slash: %v", err)
	}
	// A build with files deleted since is still ours to replace.
	os.Remove(filepath.Join(parent, "a", "b", "new", "app.js"))
	if err := Build(filepath.Join(parent, "a", "b", "new"), sampleGraph()); err != nil {
		t.Fatalf("build with a file deleted: %v", err)
	}
	// A link to a previous build: the build behind it is replaced, the
	// link stays a link.
	link := filepath.Join(parent, "www")
	if err := os.Symlink("empty", link); err != nil {
		t.Fatal(err)
	}
	g := sampleGraph()
	g.Nodes = g.Nodes[:1]
	if err := Build(link, g); err != nil {
		t.Fatalf("linked directory: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(empty, "api/nodes", ID(KindTask, "report"))); !os.IsNotExist(err) {
		t.Errorf("the build behind the link was not replaced: %v", err)
	}
	if err := checkOwned(empty, false); err != nil {
		t.Error(err)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"a", "empty", "www"}) {
		t.Errorf("leftovers: %v", got)
	}
}

// TestBuildReplacesPreviousBuildAtomically: a rebuild replaces the old
// site as a whole, the path is never missing or half written while it
// does, and nothing beside it is touched.
func TestBuildReplacesPreviousBuildAtomically(t *testing.T) {
	parent := t.TempDir()
	p := filepath.Join(parent, "site")
	writeFiles(t, parent, map[string]string{"neighbour.txt": "mine"})
	if err := Build(p, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	first := tree(t, p)
	g := sampleGraph()
	g.Nodes = g.Nodes[:1]
	var atWritten, atSwapped map[string]string
	testHookBuild = func(stage string) {
		switch stage {
		case "written":
			atWritten = tree(t, p)
		case "swapped":
			atSwapped = tree(t, p)
		}
	}
	defer func() { testHookBuild = nil }()
	if err := Build(p, g); err != nil {
		t.Fatal(err)
	}
	second := tree(t, p)
	if !mapsEqual(atWritten, first) {
		t.Error("the site changed before the new one was complete")
	}
	if !mapsEqual(atSwapped, second) || mapsEqual(first, second) {
		t.Error("the switch did not put the complete new site in place in one step")
	}
	if _, ok := second["api/nodes/"+ID(KindTask, "report")]; ok {
		t.Error("a stale node file survived the rebuild")
	}
	if got := names(t, parent); !slices.Equal(got, []string{"neighbour.txt", "site"}) {
		t.Errorf("after rebuild the parent holds %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "neighbour.txt")); string(b) != "mine" {
		t.Error("neighbour changed")
	}
}

// TestBuildFailureKeepsPreviousSite: an error (here a panic from the
// hook) after the new site was written leaves the old site and no
// temporary directory.
func TestBuildFailureKeepsPreviousSite(t *testing.T) {
	parent := t.TempDir()
	p := filepath.Join(parent, "site")
	if err := Build(p, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	first := tree(t, p)
	testHookBuild = func(stage string) {
		if stage == "written" {
			panic("disk on fire")
		}
	}
	func() {
		defer func() { recover() }()
		Build(p, Graph{Name: "__default__", Nodes: sampleGraph().Nodes[:1]})
	}()
	testHookBuild = nil
	if !mapsEqual(tree(t, p), first) {
		t.Error("a failed build changed the previous site")
	}
	if got := names(t, parent); !slices.Equal(got, []string{"site"}) {
		t.Errorf("leftovers: %v", got)
	}
}

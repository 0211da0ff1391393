package viz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// BuildMarker is the file Build writes into every site it builds: the
// list of files it wrote and their SHA-256. A later Build replaces a
// directory only when this marker is present and every file in the
// directory is one it lists, unchanged, so a mistyped --build path never
// deletes anything mmc did not write.
const BuildMarker = ".mmc-viz-build.json"

// buildTool identifies the marker's writer; a marker with another tool
// name is not ours.
const buildTool = "mmc viz --build"

// errExchangeUnsupported: the system cannot swap two directories in one
// step, so Build moves the old site aside first.
var errExchangeUnsupported = errors.New("atomic directory exchange not supported")

type buildManifest struct {
	Tool     string            `json:"tool"`
	Pipeline string            `json:"pipeline"`
	Files    map[string]string `json:"files"` // slash path → hex SHA-256
}

// testHookBuild, when set by a test, runs at each stage of Build
// ("written": the new site is complete in its temporary directory;
// "swapped": the new site is in place, the old one not yet removed), so a
// test can fail or kill the build at that point.
var testHookBuild func(stage string)

// Build writes the viewer for g as static files into dir, in the layout
// Kedro-Viz's build uses: index.html and its assets, api/main, api/layout,
// api/nodes/<id> and api/pipelines/<name>. Any static file server can host
// it (a browser will not fetch the API from a file:// page). Collapsing
// namespaces needs the live server; the static page says so.
//
// dir may be missing, an empty directory, or a previous build (one that
// holds BuildMarker and nothing else than the files it lists); anything
// else is refused and left untouched. The site is written into a
// temporary sibling and switched in with one rename (on Linux an atomic
// exchange), so a failed or killed build leaves the previous site whole.
// Temporary directories left by a killed build are removed by the next.
func Build(dir string, g Graph) error {
	s, err := newSite(g, true)
	if err != nil {
		return err
	}
	if strings.ContainsAny(g.Name, `/\`) || g.Name == "." || g.Name == ".." {
		return fmt.Errorf("viz: pipeline name %q cannot be a file name under %s", g.Name, dir)
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	target, err := buildTarget(dir)
	if err != nil {
		return err
	}
	if err := checkReplaceable(target); err != nil {
		return err
	}
	parent, base := filepath.Dir(target), filepath.Base(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("viz: build %s: %w", dir, err)
	}
	removeStaleBuilds(parent, base)

	tmp, err := os.MkdirTemp(parent, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("viz: build %s: temporary directory: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			removeOwned(tmp)
		}
	}()
	if err := writeSite(tmp, s.name, files); err != nil {
		return fmt.Errorf("viz: build %s: %w", dir, err)
	}
	if testHookBuild != nil {
		testHookBuild("written")
	}
	old, err := switchIn(tmp, target)
	if err != nil {
		return fmt.Errorf("viz: build %s: %w", dir, err)
	}
	done = true
	if testHookBuild != nil {
		testHookBuild("swapped")
	}
	if old != "" {
		if err := removeOwned(old); err != nil {
			return fmt.Errorf("viz: built %s, but the previous site, moved to %s, was kept: %w", dir, old, err)
		}
	}
	return nil
}

// files is the site's content: the embedded page and the API answers.
func (s *site) files() (map[string][]byte, error) {
	files := map[string][]byte{
		"api/main":                s.main,
		"api/layout":              s.layout,
		"api/pipelines/" + s.name: s.main,
	}
	for id, b := range s.nodes {
		files["api/nodes/"+id] = b
	}
	err := fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "web/")] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("viz: reading embedded assets: %w", err)
	}
	return files, nil
}

// buildTarget is the directory Build replaces: dir itself, or what it
// points to when dir is a symbolic link (the link is kept).
func buildTarget(dir string) (string, error) {
	dir = filepath.Clean(dir) // "site/" names the folder site, not something in it
	fi, err := os.Lstat(dir)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return dir, nil
	}
	t, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("viz: build %s: following the link: %w", dir, err)
	}
	return t, nil
}

// checkReplaceable says why dir must not be replaced, or nil when it is
// missing, empty, or a previous build with nothing foreign in it.
func checkReplaceable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("viz: build %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("viz: build %s: it is a file, not a directory built by mmc; refusing to replace it (choose another path, or remove it yourself)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("viz: build %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(dir, BuildMarker)); err != nil {
		names := make([]string, 0, 3)
		for _, e := range entries[:min(3, len(entries))] {
			names = append(names, e.Name())
		}
		more := ""
		if len(entries) > 3 {
			more = fmt.Sprintf(" and %d more", len(entries)-3)
		}
		return fmt.Errorf("viz: build %s: the directory is not empty (%s%s) and holds no %s, so mmc did not build it; refusing to delete its contents (choose an empty or new directory)",
			dir, strings.Join(names, ", "), more, BuildMarker)
	}
	// Files removed from a build since are no reason to refuse: only
	// foreign or changed ones would be lost.
	if err := checkOwned(dir, true); err != nil {
		return fmt.Errorf("viz: build %s: refusing to replace it: %w", dir, err)
	}
	return nil
}

// checkOwned verifies that every entry under dir is a directory or a
// file its marker lists with the same SHA-256. partial allows listed
// files to be missing (a build killed while writing).
func checkOwned(dir string, partial bool) error {
	b, err := os.ReadFile(filepath.Join(dir, BuildMarker))
	if err != nil {
		return fmt.Errorf("reading the build marker: %w", err)
	}
	var m buildManifest
	if err := json.Unmarshal(b, &m); err != nil || m.Tool != buildTool {
		return fmt.Errorf("%s is not a marker written by %s", filepath.Join(dir, BuildMarker), buildTool)
	}
	seen := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case p == dir || rel == BuildMarker:
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file, so mmc did not write it", p)
		}
		want, ok := m.Files[rel]
		if !ok {
			return fmt.Errorf("%s was not written by %s (move it elsewhere first)", p, buildTool)
		}
		got, err := fileSHA256(p)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s was changed after mmc built it (move it elsewhere first)", p)
		}
		seen++
		return nil
	})
	if err != nil {
		return err
	}
	if !partial && seen != len(m.Files) {
		return fmt.Errorf("%s lists %d files but %d are there", filepath.Join(dir, BuildMarker), len(m.Files), seen)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// writeSite writes the marker first and then the files, so a directory
// left by a killed build always holds a marker covering what is in it.
func writeSite(dir, pipeline string, files map[string][]byte) error {
	m := buildManifest{Tool: buildTool, Pipeline: pipeline, Files: map[string]string{}}
	for name, b := range files {
		h := sha256.Sum256(b)
		m.Files[name] = hex.EncodeToString(h[:])
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, BuildMarker), mb); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeSynced(p, files[name]); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return syncDir(dir)
}

func writeSynced(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// switchIn puts the complete site tmp at target and returns where the
// previous content of target now is ("" when there was none).
func switchIn(tmp, target string) (old string, err error) {
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, target); err != nil {
			return "", err
		}
		return "", syncDir(filepath.Dir(target))
	}
	// One atomic exchange where the system has it: target is never
	// missing, and the old site ends up at tmp's name.
	if err := exchange(tmp, target); err == nil {
		return tmp, syncDir(filepath.Dir(target))
	} else if !errors.Is(err, errExchangeUnsupported) {
		return "", err
	}
	old = tmp + ".old"
	if err := os.Rename(target, old); err != nil {
		return "", fmt.Errorf("moving the previous site aside: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		if rerr := os.Rename(old, target); rerr != nil {
			return "", fmt.Errorf("%w (and restoring the previous site from %s: %v)", err, old, rerr)
		}
		return "", err
	}
	return old, syncDir(filepath.Dir(target))
}

// removeOwned deletes dir if it is empty or a (possibly partial) build
// with nothing foreign in it.
func removeOwned(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory, so mmc did not build it", dir)
	}
	if os.Remove(dir) == nil {
		return nil
	}
	if err := checkOwned(dir, true); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func tempPrefix(base string) string { return "." + base + ".viz-build-" }

// removeStaleBuilds removes the temporary directories of builds of base
// whose process is gone (killed mid-build), if they hold only our files.
func removeStaleBuilds(parent, base string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || processAlive(pid) {
			continue
		}
		removeOwned(filepath.Join(parent, e.Name()))
	}
}

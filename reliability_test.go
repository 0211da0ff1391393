//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mmc/features/h5store"
)

// dataProcessingProject writes a data set whose train split has a meme
// without a label, and a configuration for data_processing with params as
// its parameters.yml; it returns the conf folder, the data folder and
// the report's path.
func dataProcessingProject(t *testing.T, params string) (conf, data, report string) {
	t.Helper()
	root := t.TempDir()
	data, conf = filepath.Join(root, "data"), filepath.Join(root, "conf")
	os.MkdirAll(filepath.Join(data, "img"), 0o755)
	os.MkdirAll(filepath.Join(conf, "base"), 0o755)
	os.WriteFile(filepath.Join(data, "train.jsonl"), []byte(
		`{"id": 1, "img": "img/1.png", "text": "a", "label": 0}`+"\n"+
			`{"id": 2, "img": "img/1.png", "text": "b"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(data, "img", "1.png"), tinyPNG(t), 0o644)
	report = filepath.Join(root, "out", "data_report.json")
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"raw_memes: {type: meme_folder, filepath: "+data+"}\n"+
			"data_report: {type: json, filepath: "+report+"}\n"+
			"data_report_chart: {type: png, filepath: "+filepath.Join(root, "out", "chart.png")+"}\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "base", "parameters.yml"), []byte(params), 0o644)
	return conf, data, report
}

// runDataProcessing runs data_processing as the mmc binary would and
// returns its exit status and everything it printed.
func runDataProcessing(t *testing.T, conf string, extra ...string) (int, string) {
	t.Helper()
	cmd, out := startCLIChild(t, t.TempDir(), append([]string{"run", "--pipeline=data_processing", "--conf-source", conf}, extra...)...)
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestDataProcessingReportsAndStrictFails is issue 16 item 10 end to end:
// `run --pipeline=data_processing` on a set with a train meme without a
// label prints the problem and writes ok: false (exit 0);
// --params data_processing.strict=true makes the run fail.
func TestDataProcessingReportsAndStrictFails(t *testing.T) {
	conf, data, report := dataProcessingProject(t, "data_processing: {decode_images: true, workers: 1, strict: false}\n")
	code, out := runDataProcessing(t, conf)
	if code != 0 || !strings.Contains(out, "1 problem in "+data) || !strings.Contains(out, "train: 1 meme without a label, in a labelled split: 2") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	var rep struct {
		OK       bool `json:"ok"`
		Problems int  `json:"problems"`
	}
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.OK || rep.Problems != 1 {
		t.Fatalf("report %s: %v %+v", report, err, rep)
	}
	os.Remove(report)
	code, out = runDataProcessing(t, conf, "--params", "data_processing.strict=true")
	if code == 0 || !strings.Contains(out, "data_processing.strict is true") {
		t.Fatalf("strict: exit %d, output:\n%s", code, out)
	}
	if _, err := os.Stat(report); !os.IsNotExist(err) {
		t.Errorf("a failed strict run wrote the report: %v", err)
	}
}

// TestMisconfiguredRunStopsBeforeAnything pins what already worked
// (issue 16, "already working"): malformed or misspelled configuration
// stops `run` before any node, naming the file and line (and the nearest
// valid key), and writes nothing.
func TestMisconfiguredRunStopsBeforeAnything(t *testing.T) {
	for _, c := range []struct {
		name, params string
		extra        []string
		want         []string
	}{
		{"malformed YAML", "data_processing:\n  decode_images: [true\n  workers: 1\n", nil,
			[]string{"parameters.yml:"}},
		{"misspelled key", "data_processing:\n  decode_images: true\n  workers: 1\n  strikt: true\n", nil,
			[]string{"parameters.yml:4", "strikt", `"strict"`}},
		{"wrong type", "data_processing:\n  decode_images: true\n  workers: many\n  strict: false\n", nil,
			[]string{"parameters.yml:3", "workers"}},
		{"misspelled --params key", "data_processing: {decode_images: true, workers: 1, strict: false}\n", []string{"--params", "data_processing.strickt=true"},
			[]string{"strickt", "strict"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf, _, report := dataProcessingProject(t, c.params)
			code, out := runDataProcessing(t, conf, c.extra...)
			if code == 0 {
				t.Fatalf("exit 0:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "running node") {
				t.Errorf("a node ran:\n%s", out)
			}
			if _, err := os.Stat(filepath.Dir(report)); !os.IsNotExist(err) {
				t.Errorf("the run wrote output: %v", err)
			}
		})
	}
}

// tinyPNG is a 2×2 grey PNG.
func tinyPNG(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReliabilityChild is the child process of the end-to-end tests: it
// runs main with the command line in MMC_RELIAB_ARGS (separated by the
// unit separator, 0x1f) in the folder MMC_RELIAB_DIR, and exits with its
// status.
func TestReliabilityChild(t *testing.T) {
	dir := os.Getenv("MMC_RELIAB_DIR")
	if dir == "" {
		t.Skip("child process of the kill tests")
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	// A full disk, as a write error: files may not grow past this many
	// bytes (writes beyond fail with EFBIG; Go ignores SIGXFSZ).
	if v := os.Getenv("MMC_RELIAB_FSIZE"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			t.Fatal(err)
		}
	}
	// Exactly what the mmc binary does with these arguments.
	os.Args = append([]string{"mmc"}, strings.Split(os.Getenv("MMC_RELIAB_ARGS"), "\x1f")...)
	main()
}

// lockedBuffer collects a child's output while the test reads it.
// Each write signals changed, so a test waits for output without
// spinning.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCLIChild starts the command line args in dir as a child process.
func startCLIChild(t *testing.T, dir string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	return startCLIChildEnv(t, dir, nil, args...)
}

// startCLIChildEnv is startCLIChild with extra environment variables.
func startCLIChildEnv(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReliabilityChild$")
	cmd.Env = append(append(os.Environ(), "MMC_RELIAB_DIR="+dir, "MMC_RELIAB_ARGS="+strings.Join(args, "\x1f")), env...)
	out := &lockedBuffer{changed: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// smallSyntheticConf copies the committed configuration with the synthetic set
// shrunk to memes per split (at most) and features dim wide.
func smallSyntheticConf(t *testing.T, memes, dim int) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "conf")
	if err := os.CopyFS(conf, os.DirFS("conf")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(conf, "base", "parameters_synthetic.yml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`memes: \d+`).ReplaceAllString(string(b), "memes: "+strconv.Itoa(memes))
	s = strings.Replace(s, "dim: 2048", "dim: "+strconv.Itoa(dim), 1)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// outputTree maps every file under dir to its SHA-256 (hex), by slash path.
func outputTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		return nil
	})
	return out
}

// outputUnits groups the files of a synthetic_memes run into what is
// written atomically: a folder saved as a whole (img/, an LMDB
// environment) or one file.
func outputUnit(rel string) string {
	if i := strings.Index(rel, "/img/"); i >= 0 {
		return rel[:i+4]
	}
	if i := strings.Index(rel, ".lmdb/"); i >= 0 {
		return rel[:i+5]
	}
	return rel
}

// isHiddenPath reports whether rel has a component starting with "." (the
// temporary files and folders of saves in progress).
func isHiddenPath(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if strings.HasPrefix(c, ".") {
			return true
		}
	}
	return false
}

// waitMidSave waits until a save of the image folder is under way (a
// hidden folder beside img/ with at least 10 pictures) or the child
// exits; it reports whether the save was seen.
func waitMidSave(t *testing.T, dir string, exited <-chan error) bool {
	t.Helper()
	raw := filepath.Join(dir, "data", "01_raw", "synthetic_memes")
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		case <-tick.C:
		}
		entries, _ := os.ReadDir(raw)
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
				if imgs, _ := os.ReadDir(filepath.Join(raw, e.Name())); len(imgs) >= 10 {
					return true
				}
			}
		}
	}
	t.Fatal("no save of the image folder within 2 minutes")
	return false
}

// TestRunKilledMidSaveLeavesNoPartialOutput pins a case that already
// worked (issue 16, "already working"): SIGTERM (Ctrl-C's twin) or
// SIGKILL (kill -9) of `run --pipeline=synthetic_memes` while the image
// folder is half written leaves every output either complete (equal to an
// uninterrupted run's) or absent, never partial; after SIGTERM no
// temporary file is left; and running the same command again ends with
// exactly the uninterrupted run's outputs, the killed run's temporaries
// removed (item 5).
func TestRunKilledMidSaveLeavesNoPartialOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the synthetic generator five times")
	}
	conf := smallSyntheticConf(t, 100, 64)
	args := []string{"run", "--pipeline=synthetic_memes", "--conf-source", conf}
	refDir := t.TempDir()
	cmd, out := startCLIChild(t, refDir, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	ref := outputTree(t, filepath.Join(refDir, "data"))
	units := map[string][]string{}
	for rel := range ref {
		units[outputUnit(rel)] = append(units[outputUnit(rel)], rel)
	}
	var dir string
	same := func(rel, got, want string) bool {
		if got == want {
			return true
		}
		// HDF5 files record their creation time: compare the records.
		return strings.HasSuffix(rel, ".h5") && got != "" && sameH5(t, filepath.Join(dir, "data", rel), filepath.Join(refDir, "data", rel))
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir = t.TempDir()
			cmd, out := startCLIChild(t, dir, args...)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			if !waitMidSave(t, dir, exited) {
				t.Fatalf("the run ended before the image folder was being saved:\n%s", out)
			}
			cmd.Process.Signal(sig)
			err := <-exited
			if err == nil {
				t.Fatalf("the run succeeded although it was stopped mid-save:\n%s", out)
			}
			if sig == syscall.SIGTERM && !strings.Contains(out.String(), "--from-nodes") {
				t.Errorf("SIGTERM: no resume command printed:\n%s", out)
			}
			got := outputTree(t, filepath.Join(dir, "data"))
			for unit, files := range units {
				present := 0
				for _, f := range files {
					if _, ok := got[f]; ok {
						present++
						if !same(f, got[f], ref[f]) {
							t.Errorf("%s: %s differs from the uninterrupted run's (partial write)", unit, f)
						}
					}
				}
				if present != 0 && present != len(files) {
					t.Errorf("%s: %d of its %d files are there: a partial save", unit, present, len(files))
				}
			}
			for rel := range got {
				if _, ok := ref[rel]; !ok && !(sig == syscall.SIGKILL && isHiddenPath(rel)) {
					t.Errorf("%s is left after %s (not in an uninterrupted run's output)", rel, sig)
				}
			}
			// The same command again finishes the job.
			cmd, out = startCLIChild(t, dir, args...)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("rerun after %s: %v\n%s", sig, err, out)
			}
			got = outputTree(t, filepath.Join(dir, "data"))
			for rel, h := range ref {
				if !same(rel, got[rel], h) {
					t.Errorf("after the rerun %s differs from the uninterrupted run's", rel)
				}
			}
			// Item 5: the rerun's saves removed the killed run's
			// temporaries.
			for rel := range got {
				if _, ok := ref[rel]; !ok {
					t.Errorf("%s is still there after the rerun after %s", rel, sig)
				}
			}
		})
	}
}

// sameH5 reports whether two HDF5 feature stores hold the same records.
func sameH5(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err := h5store.Open(a)
	if err != nil {
		t.Errorf("%s: %v", a, err)
		return false
	}
	defer sa.Close()
	sb, err := h5store.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if !slices.Equal(sa.IDs(), sb.IDs()) || sa.Dim() != sb.Dim() || sa.Regions() != sb.Regions() {
		return false
	}
	for _, id := range sa.IDs() {
		ra, err1 := sa.Get(id)
		rb, err2 := sb.Get(id)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(ra, rb) {
			return false
		}
	}
	return true
}

// TestTrainingKilledResumesIdentically pins a case that already worked
// (issue 16, "already working"): `kill -9` of a training run right as its
// second epoch ends (around the save of the training state), then the
// same command again: the rerun continues from the saved state (it does
// not train epoch 1 again) and ends with the uninterrupted run's
// checkpoint and metrics, byte for byte.
func TestTrainingKilledResumesIdentically(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model three times")
	}
	conf := smallSyntheticConf(t, 32, 16)
	const out = "data/05_model_output/vilbert_synthetic_train/"
	args := []string{"run", "--pipeline=vilbert_synthetic_train", "--conf-source", conf, "--params",
		"vilbert_synthetic_train.train.model.vilbert.v_feature_size=16,vilbert_synthetic_train.train.loop.epochs=3"}
	refDir := t.TempDir()
	for _, a := range [][]string{{"run", "--pipeline=synthetic_memes", "--conf-source", conf}, args} {
		cmd, log := startCLIChild(t, refDir, a...)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v\n%s", a, err, log)
		}
	}
	dir := t.TempDir()
	for _, d := range []string{"data/01_raw", "data/03_features"} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(refDir, d))); err != nil {
			t.Fatal(err)
		}
	}
	cmd, log := startCLIChild(t, dir, args...)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for !strings.Contains(log.String(), "epoch 2/3:") {
		select {
		case err := <-exited:
			t.Fatalf("the run ended (%v) before its second epoch did:\n%s", err, log)
		case <-log.changed:
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	if _, err := os.Stat(filepath.Join(dir, out, "test_metrics.json")); err == nil {
		t.Fatal("the killed run wrote test metrics")
	}
	cmd, log = startCLIChild(t, dir, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun after kill -9: %v\n%s", err, log)
	}
	if strings.Contains(log.String(), "epoch 1/3:") {
		t.Errorf("the rerun trained epoch 1 again instead of resuming:\n%s", log)
	}
	for _, f := range []string{"vilbert_best.safetensors", "test_metrics.json"} {
		a, err := os.ReadFile(filepath.Join(dir, out, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(refDir, out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s after kill -9 and resume differs from the uninterrupted run's", f)
		}
	}
}

// TestRunOnFullDiskKeepsOldOutputs pins a case that already worked
// (issue 16, "already working"): a run whose writes fail part way (the
// disk is full; here a file-size limit makes every write past 100 KB fail)
// fails naming the file, leaves each earlier output either as it was or
// completely replaced, and no temporary file; once there is room, the
// same command ends as an uninterrupted run.
func TestRunOnFullDiskKeepsOldOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the synthetic generator four times")
	}
	conf := smallSyntheticConf(t, 100, 64)
	base := []string{"run", "--pipeline=synthetic_memes", "--conf-source", conf}
	reseed := append(slices.Clone(base), "--params", "synthetic.seed=7,synthetic.detector.seed=8")
	run := func(dir string, env []string, args []string) (error, string) {
		cmd, log := startCLIChildEnv(t, dir, env, args...)
		err := cmd.Wait()
		return err, log.String()
	}
	oldDir, newDir, dir := t.TempDir(), t.TempDir(), t.TempDir()
	if err, log := run(oldDir, nil, base); err != nil {
		t.Fatalf("first run: %v\n%s", err, log)
	}
	if err, log := run(newDir, nil, reseed); err != nil {
		t.Fatalf("reseeded run: %v\n%s", err, log)
	}
	if err := os.CopyFS(filepath.Join(dir, "data"), os.DirFS(filepath.Join(oldDir, "data"))); err != nil {
		t.Fatal(err)
	}
	oldTree, newTree := outputTree(t, filepath.Join(oldDir, "data")), outputTree(t, filepath.Join(newDir, "data"))
	err, log := run(dir, []string{"MMC_RELIAB_FSIZE=100000"}, reseed)
	if err == nil {
		t.Fatalf("a run on a full disk succeeded:\n%s", log)
	}
	// LMDB reports the failed write as an I/O error, other writers as
	// "file too large"; either way the dataset and its path are named.
	if !regexp.MustCompile(`save dataset "[a-z_]+" \([a-z_0-9]+ data/0[0-9]_[a-z_]+/`).MatchString(log) {
		t.Errorf("the failure does not name the dataset and the file being written:\n%s", log)
	}
	got := outputTree(t, filepath.Join(dir, "data"))
	byUnit := func(tr map[string]string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for rel, h := range tr {
			u := outputUnit(rel)
			if out[u] == nil {
				out[u] = map[string]string{}
			}
			out[u][rel] = h
		}
		return out
	}
	gotU, oldU, newU := byUnit(got), byUnit(oldTree), byUnit(newTree)
	replaced := 0
	for unit, files := range gotU {
		isOld, isNew := maps.Equal(files, oldU[unit]), maps.Equal(files, newU[unit])
		if strings.HasSuffix(unit, ".h5") && !isOld {
			isNew = sameH5(t, filepath.Join(dir, "data", unit), filepath.Join(newDir, "data", unit))
		}
		switch {
		case isNew && !isOld:
			replaced++
		case !isOld:
			t.Errorf("%s is neither the old output nor the complete new one (%d files; old %d, new %d)", unit, len(files), len(oldU[unit]), len(newU[unit]))
		}
	}
	for unit := range oldU {
		if gotU[unit] == nil {
			t.Errorf("%s was lost", unit)
		}
	}
	t.Logf("%d of %d outputs were replaced before the disk filled up", replaced, len(oldU))
	if err, log := run(dir, nil, reseed); err != nil {
		t.Fatalf("rerun with room: %v\n%s", err, log)
	}
	got = outputTree(t, filepath.Join(dir, "data"))
	for rel, h := range newTree {
		if got[rel] != h && !(strings.HasSuffix(rel, ".h5") && sameH5(t, filepath.Join(dir, "data", rel), filepath.Join(newDir, "data", rel))) {
			t.Errorf("after the rerun %s differs from an uninterrupted run's", rel)
		}
	}
}

// TestMaliciousCheckpointNeverRuns pins what already worked (issue 16,
// "already working"): a checkpoint given as init_weights whose pickle
// would run `touch pwned_by_pickle` in Python (testdata/evil_reduce.pth,
// from scripts/fixtures/pickle_globals.py) is read without running
// anything; the run fails naming the file (its weights do not fit the
// model) and no file appears.
func TestMaliciousCheckpointNeverRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a data set first")
	}
	evil, err := filepath.Abs(filepath.Join("testdata", "evil_reduce.pth"))
	if err != nil {
		t.Fatal(err)
	}
	conf := smallSyntheticConf(t, 16, 16)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", "--pipeline=synthetic_memes", "--conf-source", conf},
		{"run", "--pipeline=vilbert_synthetic_train", "--conf-source", conf, "--params",
			"vilbert_synthetic_train.train.model.vilbert.v_feature_size=16,vilbert_synthetic_train.train.model.init_weights=" + evil},
	} {
		cmd, out := startCLIChild(t, dir, args...)
		err := cmd.Wait()
		if args[1] == "--pipeline=synthetic_memes" {
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(out.String(), evil) {
			t.Errorf("training from the malicious checkpoint: %v, want a failure naming %s:\n%s", err, evil, out)
		}
	}
	for _, d := range []string{dir, conf, filepath.Dir(evil), "."} {
		if _, err := os.Stat(filepath.Join(d, "pwned_by_pickle")); err == nil {
			t.Fatalf("the pickle's command ran: %s exists", filepath.Join(d, "pwned_by_pickle"))
		}
	}
}

// syntheticProject runs synthetic_memes (32 memes a split, 16-wide
// features) in a fresh folder and returns it with the configuration and
// the arguments of a 2-epoch vilbert_synthetic_train run.
func syntheticProject(t *testing.T) (dir, conf string, train []string) {
	t.Helper()
	conf = smallSyntheticConf(t, 32, 16)
	dir = t.TempDir()
	cmd, log := startCLIChild(t, dir, "run", "--pipeline=synthetic_memes", "--conf-source", conf)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("synthetic_memes: %v\n%s", err, log)
	}
	return dir, conf, []string{"run", "--pipeline=vilbert_synthetic_train", "--conf-source", conf, "--params",
		"vilbert_synthetic_train.train.model.vilbert.v_feature_size=16,vilbert_synthetic_train.train.loop.epochs=2"}
}

// TestDamagedFeatureStoreIsAnError is issue 16 item 1 end to end: a
// truncated or empty detectron.lmdb gives an error naming the dataset,
// the file and what is wrong (it was SIGBUS and a Go stack dump).
func TestDamagedFeatureStoreIsAnError(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mmc")
	}
	dir, _, train := syntheticProject(t)
	data := filepath.Join(dir, "data/03_features/synthetic/detectron.lmdb/data.mdb")
	st, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		size int64
		want string
	}{{st.Size() / 2, "the file is truncated"}, {0, "is empty (0 bytes)"}} {
		if err := os.Truncate(data, c.size); err != nil {
			t.Fatal(err)
		}
		cmd, log := startCLIChild(t, dir, train...)
		err := cmd.Wait()
		out := log.String()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("truncated to %d bytes: the run ended with %v, want an error exit\n%s", c.size, err, out)
		}
		for _, want := range []string{"synthetic_detectron_lmdb", data[len(dir)+1:], c.want} {
			if !strings.Contains(out, want) {
				t.Errorf("truncated to %d bytes: the output does not say %q:\n%s", c.size, want, out)
			}
		}
		if strings.Contains(out, "SIGBUS") || strings.Contains(out, "goroutine ") {
			t.Errorf("a crash instead of an error:\n%s", out)
		}
	}
}

// TestStateSwapKilledResumes is issue 16 item 4 end to end: a run killed
// (MMC_FAULT) right after the new state folder was renamed in and before
// the pointer file named it resumes from that newest complete state.
func TestStateSwapKilledResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir, _, train := syntheticProject(t)
	cmd, log := startCLIChildEnv(t, dir, []string{"MMC_FAULT=train.state.renamed"}, train...)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the run was not killed at the fault point: %v\n%s", err, log)
	}
	cmd, log = startCLIChild(t, dir, train...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, log)
	}
	if out := log.String(); strings.Contains(out, "epoch 1/2:") || !strings.Contains(out, "epoch 2/2:") {
		t.Fatalf("the rerun did not resume after epoch 1:\n%s", out)
	}
	state := filepath.Join(dir, "data/05_model_output/vilbert_synthetic_train/training_state")
	es, _ := os.ReadDir(state)
	if len(es) != 3 { // .lock, CURRENT, one state folder
		t.Errorf("left in %s: %v", state, es)
	}
}

// TestSecondRunFailsNamingPid is issue 16 item 6 end to end: while one
// training run holds its state folder (stopped there by MMC_FAULT), the
// same command fails at once naming that run's pid.
func TestSecondRunFailsNamingPid(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mmc")
	}
	dir, _, train := syntheticProject(t)
	first, log := startCLIChildEnv(t, dir, []string{"MMC_FAULT=train.locked:stop"}, train...)
	defer func() { first.Process.Kill(); first.Wait() }()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(first.Process.Pid, &ws, syscall.WUNTRACED, nil); err != nil || !ws.Stopped() {
		t.Fatalf("the first run did not stop holding its state (%v, %v):\n%s", ws, err, log)
	}
	second, log2 := startCLIChild(t, dir, train...)
	err := second.Wait()
	out := log2.String()
	if err == nil || !strings.Contains(out, "process "+strconv.Itoa(first.Process.Pid)) || !strings.Contains(out, "training_state") {
		t.Fatalf("second run: %v, want it refused naming pid %d and the state folder:\n%s", err, first.Process.Pid, out)
	}
}

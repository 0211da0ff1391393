package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"mmc/atomicfile"
	"mmc/fault"
	"mmc/ml/checkpoint"
)

// State is everything needed to continue training after an epoch.
type State struct {
	Meta      StateMeta
	Model     checkpoint.StateDict // weights at the end of the last epoch
	Optimizer checkpoint.StateDict // optimiser moments
	Best      checkpoint.StateDict // weights of the best epoch so far
}

// StateMeta is the JSON part of a State.
type StateMeta struct {
	Fingerprint string `json:"fingerprint"`
	// Settings are the settings the fingerprint was computed from
	// (flattened keys, see Flatten), so that a mismatch can say which
	// setting differs. Absent in states of earlier versions.
	Settings      map[string]string `json:"settings,omitempty"`
	EpochsDone    int               `json:"epochs_done"`
	Step          int               `json:"step"`
	SinceBest     int               `json:"epochs_since_best"`
	History       History           `json:"history"`
	OptimizerMeta map[string]string `json:"optimizer"`
}

// Store keeps the latest training State.
type Store interface {
	// Load returns the saved state, or (nil, nil) when there is none.
	Load() (*State, error)
	// Save replaces the saved state atomically.
	Save(*State) error
}

// LockingStore is a Store the Trainer locks for the whole run, so that
// a second run using it fails at once instead of sharing it.
type LockingStore interface {
	Store
	// Lock takes the store for this process and tidies what a killed
	// run left; unlock releases it.
	Lock() (unlock func(), err error)
}

// MetaLoader is a Store that can read a saved state's metadata alone,
// without its weights.
type MetaLoader interface {
	Store
	// LoadMeta returns the saved state's metadata, or (nil, nil) when
	// there is none.
	LoadMeta() (*StateMeta, error)
}

// KeepingStore is a Store that can set its state aside instead of
// letting the next Save overwrite it.
type KeepingStore interface {
	Store
	// KeepAside moves the current state out of the way, under a name
	// holding its fingerprint, and returns where it went.
	KeepAside(st *State) (string, error)
}

// DirStore keeps the state in a directory of versioned state folders
// and a pointer file:
//
//	DIR/CURRENT              "state-000007", replaced atomically
//	DIR/state-000007/        model, optimizer and best-epoch weights
//	                         (safetensors) and state.json, written last
//	DIR/.lock                flock of the run using the folder
//
// Save writes the next state folder under a temporary name, renames it
// into place complete, then replaces CURRENT (one atomic rename) and
// removes the previous folder, so a kill at any moment leaves a complete
// state: the one CURRENT names or a newer complete one, which Lock picks
// up ("the newest complete state"), removing the rest.
//
// A directory holding state.json itself (the layout of earlier versions)
// is read as the state; the first Save converts it.
type DirStore struct{ Dir string }

var (
	_ LockingStore = DirStore{}
	_ KeepingStore = DirStore{}
	_ MetaLoader   = DirStore{}
)

const (
	stateMetaFile = "state.json"
	stateModel    = "model.safetensors"
	stateOptim    = "optimizer.safetensors"
	stateBest     = "best.safetensors"
	currentFile   = "CURRENT"
	lockFile      = ".lock"
	statePrefix   = "state-"
)

var stateFiles = []string{stateMetaFile, stateModel, stateOptim, stateBest}

func stateName(n int) string { return fmt.Sprintf("%s%06d", statePrefix, n) }

// stateNumber parses a state folder's name; ok is false for other names.
func stateNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, statePrefix)
	if !ok || len(rest) < 6 {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0
}

// complete reports whether a state folder holds every file (state.json
// is written last, after the weights were synced).
func complete(dir string) bool {
	for _, f := range stateFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// layout is what the directory holds.
type layout struct {
	current string // the folder CURRENT names ("" when none or missing)
	newest  string // the newest complete state folder
	maxNum  int    // the highest state folder number seen
	legacy  bool   // state.json at the top (earlier versions)
	others  []string
}

func (d DirStore) scan() (layout, error) {
	var l layout
	entries, err := os.ReadDir(d.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("training state %s: %w", d.Dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Dir, currentFile)); err == nil {
		name := strings.TrimSpace(string(b))
		if _, ok := stateNumber(name); ok && complete(filepath.Join(d.Dir, name)) {
			l.current = name
		}
	}
	best := 0
	for _, e := range entries {
		name := e.Name()
		if name == stateMetaFile {
			l.legacy = true
		}
		n, ok := stateNumber(name)
		if !ok || !e.IsDir() {
			if strings.HasPrefix(name, "."+statePrefix) {
				l.others = append(l.others, name) // a killed save's temporary
			}
			continue
		}
		l.maxNum = max(l.maxNum, n)
		if n > best && complete(filepath.Join(d.Dir, name)) {
			best, l.newest = n, name
		}
		l.others = append(l.others, name)
	}
	return l, nil
}

// stateDir is the folder to load: the newest complete state, or the
// directory itself in the earlier layout; "" when there is none.
func (d DirStore) stateDir() (string, error) {
	l, err := d.scan()
	if err != nil {
		return "", err
	}
	switch {
	case l.newest != "":
		return filepath.Join(d.Dir, l.newest), nil
	case l.legacy:
		return d.Dir, nil
	}
	return "", nil
}

// Lock takes DIR/.lock (a second run fails at once with the first one's
// pid) and then tidies the directory: an earlier version's swap killed
// midway is finished, CURRENT is pointed at the newest complete state,
// and every other state folder and temporary is removed.
func (d DirStore) Lock() (func(), error) {
	if _, err := atomicfile.CleanStale(d.Dir); err != nil {
		return nil, fmt.Errorf("training state %s: %w", d.Dir, err)
	}
	lk, err := atomicfile.TryLock(filepath.Join(d.Dir, lockFile), "training state "+d.Dir)
	if err != nil {
		return nil, err
	}
	unlock := func() { lk.Unlock() }
	l, err := d.scan()
	if err != nil {
		unlock()
		return nil, err
	}
	if l.newest != "" && l.newest != l.current {
		if err := atomicfile.WriteBytes(filepath.Join(d.Dir, currentFile), []byte(l.newest+"\n")); err != nil {
			unlock()
			return nil, fmt.Errorf("training state %s: %w", d.Dir, err)
		}
	}
	for _, name := range l.others {
		if name != l.newest {
			os.RemoveAll(filepath.Join(d.Dir, name))
		}
	}
	return unlock, nil
}

// Save writes st as the next state folder and points CURRENT at it.
func (d DirStore) Save(st *State) error {
	l, err := d.scan()
	if err != nil {
		return err
	}
	name := stateName(l.maxNum + 1)
	final := filepath.Join(d.Dir, name)
	tmp, release, err := atomicfile.MkdirTemp(final)
	if err != nil {
		return err
	}
	defer release()
	defer os.RemoveAll(tmp) // a no-op once renamed
	meta, err := json.MarshalIndent(st.Meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state metadata: %w", err)
	}
	for _, f := range []struct {
		name string
		sd   checkpoint.StateDict
	}{{stateModel, st.Model}, {stateOptim, st.Optimizer}, {stateBest, st.Best}} {
		if err := checkpoint.SaveSafetensors(filepath.Join(tmp, f.name), f.sd, nil); err != nil {
			return err
		}
	}
	// state.json last: a folder holding it holds everything.
	if err := atomicfile.WriteBytes(filepath.Join(tmp, stateMetaFile), meta); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	fault.Point("train.state.written")
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("training state %s: %w", d.Dir, err)
	}
	fault.Point("train.state.renamed")
	if err := atomicfile.WriteBytes(filepath.Join(d.Dir, currentFile), []byte(name+"\n")); err != nil {
		return fmt.Errorf("training state %s: %w", d.Dir, err)
	}
	fault.Point("train.state.pointed")
	// The previous folders and the earlier layout's files go.
	for _, other := range l.others {
		if other != name {
			os.RemoveAll(filepath.Join(d.Dir, other))
		}
	}
	if l.legacy {
		for _, f := range stateFiles {
			os.Remove(filepath.Join(d.Dir, f))
		}
	}
	return nil
}

// Load reads the newest complete state; no state is (nil, nil). It
// changes nothing on disk (Lock tidies).
func (d DirStore) Load() (*State, error) {
	dir, meta, err := d.loadMeta()
	if err != nil || meta == nil {
		return nil, err
	}
	st := &State{Meta: *meta}
	for _, f := range []struct {
		name string
		sd   *checkpoint.StateDict
	}{{stateModel, &st.Model}, {stateOptim, &st.Optimizer}, {stateBest, &st.Best}} {
		sd, _, err := checkpoint.LoadSafetensors(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		*f.sd = sd
	}
	return st, nil
}

// LoadMeta reads the newest complete state's state.json only; no state
// is (nil, nil).
func (d DirStore) LoadMeta() (*StateMeta, error) {
	_, meta, err := d.loadMeta()
	return meta, err
}

func (d DirStore) loadMeta() (string, *StateMeta, error) {
	dir, err := d.stateDir()
	if err != nil || dir == "" {
		return "", nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, stateMetaFile))
	if err != nil {
		return "", nil, err
	}
	meta := &StateMeta{}
	if err := json.Unmarshal(b, meta); err != nil {
		return "", nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateMetaFile), err)
	}
	return dir, meta, nil
}

// KeptName is where KeepAside puts a state of that fingerprint: a
// sibling DIR.fp-<first 12 hex digits>, a state directory of its own
// (rename it back to DIR to resume it).
func (d DirStore) KeptName(fingerprint string) string {
	fp := fingerprint
	if len(fp) > 12 {
		fp = fp[:12]
	}
	if fp == "" {
		fp = "unknown"
	}
	return filepath.Clean(d.Dir) + ".fp-" + fp
}

// KeepAside moves the current state (of st's fingerprint) to KeptName,
// with its own CURRENT; DIR is left without a state.
func (d DirStore) KeepAside(st *State) (string, error) {
	src, err := d.stateDir()
	if err != nil || src == "" {
		return "", err
	}
	dest := d.KeptName(st.Meta.Fingerprint)
	for i := 2; ; i++ {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			break
		}
		dest = d.KeptName(st.Meta.Fingerprint) + "-" + strconv.Itoa(i)
	}
	name := stateName(1)
	if src != d.Dir {
		name = filepath.Base(src)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", fmt.Errorf("keep the training state aside: %w", err)
	}
	if src == d.Dir {
		// Earlier layout: move the files into a state folder.
		if err := os.MkdirAll(filepath.Join(dest, name), 0o755); err != nil {
			return "", fmt.Errorf("keep the training state aside: %w", err)
		}
		// state.json last, as Save writes it.
		for _, f := range []string{stateModel, stateOptim, stateBest, stateMetaFile} {
			if err := os.Rename(filepath.Join(src, f), filepath.Join(dest, name, f)); err != nil {
				return "", fmt.Errorf("keep the training state aside: %w", err)
			}
		}
	} else if err := os.Rename(src, filepath.Join(dest, name)); err != nil {
		return "", fmt.Errorf("keep the training state aside: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dest, currentFile), []byte(name+"\n")); err != nil {
		return "", fmt.Errorf("keep the training state aside: %w", err)
	}
	os.Remove(filepath.Join(d.Dir, currentFile))
	return dest, nil
}

// Flatten adds v's fields, as JSON, to settings under prefix: nested
// objects become dotted keys ("train.optimizer.lr"), other values their
// JSON text.
func Flatten(settings map[string]string, prefix string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	var walk func(p string, x any)
	walk = func(p string, x any) {
		if m, ok := x.(map[string]any); ok && len(m) > 0 {
			for k, v := range m {
				key := k
				if p != "" {
					key = p + "." + k
				}
				walk(key, v)
			}
			return
		}
		b, _ := json.Marshal(x)
		settings[p] = string(b)
	}
	walk(prefix, x)
	return nil
}

// Settings returns the loop settings that can change the results, keyed
// "PREFIX.name": everything but the number of loader goroutines, their
// look-ahead and the evaluation batch size (which change speed and
// memory only), so that changing those keeps a saved state valid.
func (c Config) Settings(prefix string) map[string]string {
	q := c
	q.Workers, q.Ahead, q.EvalBatchSize = 0, 0, 0
	s := map[string]string{}
	Flatten(s, prefix, q)
	for _, k := range []string{"workers", "ahead", "eval_batch_size"} {
		delete(s, prefix+"."+k)
	}
	return s
}

// Fingerprint hashes settings (in key order) into the hex string saved
// with a state.
func Fingerprint(settings map[string]string) string {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteByte(0)
		sb.WriteString(settings[k])
		sb.WriteByte(0)
	}
	return hexSHA256(sb.String())
}

// Differences lists the settings that differ between a saved state's
// and this run's, as "key: saved → now", in key order (at most max, then
// "and N more").
func Differences(saved, now map[string]string, limit int) []string {
	if saved == nil {
		return []string{"the state was saved by an earlier version of mmc, which did not record its settings"}
	}
	keys := map[string]bool{}
	for k := range saved {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		a, inA := saved[k]
		b, inB := now[k]
		switch {
		case inA && inB && a == b:
			continue
		case !inA:
			a = "(unset)"
		case !inB:
			b = "(unset)"
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", k, short(a), short(b)))
	}
	if limit > 0 && len(out) > limit {
		out = append(out[:limit:limit], fmt.Sprintf("and %d more", len(out)-limit))
	}
	return out
}

func short(s string) string {
	if len(s) > 60 {
		return s[:28] + "…" + s[len(s)-28:]
	}
	return s
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

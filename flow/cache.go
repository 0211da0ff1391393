package flow

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"mmc/atomicfile"
	"mmc/catalog"
	"mmc/config"
)

// LockFile is where a project's cache lock lives, under its root.
const LockFile = ".mmc/lock.json"

// Cache is a project's lock file (like dvc.lock, per node): for every
// node that ran, the code version, the parameter leaves it read and the
// content signature of each persisted input and output. A node whose
// record still matches and whose outputs exist is skipped by Run. A
// Cache is safe for concurrent use.
type Cache struct {
	path  string
	build string

	mu        sync.Mutex
	nodes     map[string]*LockEntry
	changed   map[string]bool    // node entries written by this process
	known     map[string]FileSig // path → newest signature with a content hash
	fresh     map[string]FileSig // path → signature computed in this process
	lastWrite time.Time
	writeTook time.Duration
}

// LockEntry is one node's record in the lock file.
type LockEntry struct {
	// Code is the node function's identity and a digest of the binary's
	// build, or the version the node declares (Node.Versioned).
	Code string `json:"code"`
	// Params maps every parameter leaf the node read to its canonical
	// JSON value (or "sha256:…" for long values).
	Params map[string]string `json:"params,omitempty"`
	// Inputs and Outputs are the persisted datasets' content by name.
	Inputs  map[string]FileRef `json:"inputs,omitempty"`
	Outputs map[string]FileRef `json:"outputs,omitempty"`
	Run     string             `json:"run,omitempty"` // the run that wrote the entry
}

// FileRef is where a dataset's data was and the hash of its content.
type FileRef struct {
	Path string `json:"p"`
	Hash string `json:"h"`
}

// FileSig is a path's content signature: the quick part (size and
// modification time, or for a folder a digest of its files' names, sizes
// and times) is compared first; only when it differs is the content
// hashed. The lock keeps the newest signature of every path it names.
type FileSig struct {
	Size  int64  `json:"size"`
	Quick string `json:"quick"`
	Hash  string `json:"hash"`
}

type lockFileJSON struct {
	Version int                   `json:"version"`
	Files   map[string]FileSig    `json:"files"`
	Nodes   map[string]*LockEntry `json:"nodes"`
}

// OpenCache reads the lock file under root (none yet is an empty cache).
// build identifies the code; "" detects it from this binary (BuildID).
func OpenCache(root, build string) (*Cache, error) {
	if build == "" {
		build = BuildID()
	}
	sum := sha256.Sum256([]byte(build))
	c := &Cache{path: filepath.Join(root, LockFile), build: hex.EncodeToString(sum[:6]), changed: map[string]bool{},
		fresh: map[string]FileSig{}}
	lf, err := readLock(c.path)
	if err != nil {
		return nil, err
	}
	c.nodes, c.known = lf.Nodes, lf.Files
	return c, nil
}

func readLock(path string) (*lockFileJSON, error) {
	lf := &lockFileJSON{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read lock file: %w", err)
	default:
		if err := json.Unmarshal(b, lf); err != nil {
			return nil, fmt.Errorf("lock file %s is damaged (%v); delete it to start the cache afresh", path, err)
		}
		if lf.Version != lockVersion {
			lf = &lockFileJSON{} // an older layout: start afresh
		}
	}
	if lf.Nodes == nil {
		lf.Nodes = map[string]*LockEntry{}
	}
	if lf.Files == nil {
		lf.Files = map[string]FileSig{}
	}
	return lf, nil
}

const lockVersion = 2

// Path is the lock file's path.
func (c *Cache) Path() string { return c.path }

// Entry is the recorded entry of a node, or nil.
func (c *Cache) Entry(node string) *LockEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[node]
}

// Flush writes the lock file, merged with the entries other processes
// wrote meanwhile, when this process changed it.
func (c *Cache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked(true)
}

func (c *Cache) flushLocked(merge bool) error {
	if len(c.changed) == 0 {
		return nil
	}
	t0 := time.Now()
	if merge {
		if disk, err := readLock(c.path); err == nil {
			for name, e := range c.nodes {
				if c.changed[name] || disk.Nodes[name] == nil {
					disk.Nodes[name] = e
				}
			}
			for path, sig := range c.known {
				disk.Files[path] = sig
			}
			c.nodes, c.known = disk.Nodes, disk.Files
		}
	}
	// Keep only the signatures of paths some node still names.
	files := map[string]FileSig{}
	for _, e := range c.nodes {
		for _, m := range []map[string]FileRef{e.Inputs, e.Outputs} {
			for _, r := range m {
				if sig, ok := c.known[r.Path]; ok {
					files[r.Path] = sig
				}
			}
		}
	}
	b, err := json.Marshal(lockFileJSON{Version: lockVersion, Files: files, Nodes: c.nodes})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(c.path, append(b, '\n')); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	c.changed = map[string]bool{}
	c.lastWrite, c.writeTook = time.Now(), time.Since(t0)
	return nil
}

// record stores a node's entry; while a run goes the file is rewritten
// at most every 200 ms and at most 5% of the time, and by Flush at the
// end.
func (c *Cache) record(node string, e *LockEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[node] = e
	c.changed[node] = true
	if time.Since(c.lastWrite) < max(200*time.Millisecond, 20*c.writeTook) {
		return nil
	}
	return c.flushLocked(false)
}

// BuildID identifies this binary's code: the Go build ID of the
// executable (a hash of everything linked in, the same for identical
// rebuilds, so `go run .` twice matches), else the executable's SHA-256.
func BuildID() string {
	buildOnce.Do(func() { buildID = detectBuild() })
	return buildID
}

var (
	buildOnce sync.Once
	buildID   string
)

func detectBuild() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	if f, err := elf.Open(exe); err == nil {
		defer f.Close()
		if s := f.Section(".note.go.buildid"); s != nil {
			if b, err := s.Data(); err == nil && len(b) > 16 {
				// The note is namesz, descsz, type, "Go\0\0", then the ID.
				return "buildid:" + strings.TrimRight(string(b[16:]), "\x00")
			}
		}
	}
	h, err := hashFile(exe)
	if err != nil {
		return "unknown"
	}
	return "exe:" + h
}

// codeVersion is what the lock records as a node's code.
func (c *Cache) codeVersion(n *Node) string {
	if n.version != "" {
		return n.funcName + "@version:" + n.version
	}
	return n.funcName + "@" + c.build
}

// DatasetPath is where a persisted dataset's data lives on local disk
// ("" for in-memory data, parameters and remote stores); see datasetPath.
func DatasetPath(cat *catalog.Catalog, name string) string { return datasetPath(cat, name, nil) }

// datasetPath is where a persisted dataset's data lives on local disk
// ("" for in-memory data, parameters and remote stores): the filepath,
// or for a versioned dataset the version pinned in pins (--load-versions)
// or else its newest.
func datasetPath(cat *catalog.Catalog, name string, pins map[string]string) string {
	if _, isParam := catalog.IsParam(name); isParam {
		return ""
	}
	res, err := cat.Resolve(name)
	if err != nil {
		return ""
	}
	return resolvedPath(res, pins[name])
}

func resolvedPath(res catalog.Resolution, pinned string) string {
	if res.Kind == catalog.Memory || res.Kind == catalog.Parameter || res.Spec == nil || res.Spec.Filepath == "" {
		return ""
	}
	p := res.Spec.Filepath
	if strings.Contains(p, "://") {
		return ""
	}
	if !res.Spec.Versioned {
		return p
	}
	base := filepath.Base(p)
	if pinned != "" {
		return filepath.Join(p, pinned, base)
	}
	matches, _ := filepath.Glob(filepath.Join(p, "*", base))
	if len(matches) == 0 {
		return ""
	}
	sort.Strings(matches)
	return matches[len(matches)-1]
}

// quickSig is the quick part of a path's signature: "" when the path
// does not exist.
func quickSig(path string) (quick string, size int64, err error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	if !st.IsDir() {
		return "f:" + strconv.FormatInt(st.Size(), 10) + ":" + strconv.FormatInt(st.ModTime().UnixNano(), 10), st.Size(), nil
	}
	h := sha256.New()
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		size += info.Size()
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", filepath.ToSlash(rel), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return "d:" + hex.EncodeToString(h.Sum(nil)[:16]), size, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// hashPath is the SHA-256 of a file, or of a folder's file names and
// their hashes.
func hashPath(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return hashFile(path)
	}
	h := sha256.New()
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fh, err := hashFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		fmt.Fprintf(h, "%s\x00%s\n", filepath.ToSlash(rel), fh)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// signature computes path's signature, hashing the content only when the
// quick part differs from the known signature of that path. ok is false
// when the path does not exist.
func (c *Cache) signature(path string) (sig FileSig, ok bool, err error) {
	q, size, err := quickSig(path)
	if err != nil || q == "" {
		return FileSig{}, false, err
	}
	return c.signatureQuick(path, q, size)
}

func (c *Cache) signatureQuick(path, q string, size int64) (FileSig, bool, error) {
	c.mu.Lock()
	if s, hit := c.fresh[path]; hit && s.Quick == q {
		c.mu.Unlock()
		return s, true, nil
	}
	known, hasKnown := c.known[path]
	c.mu.Unlock()
	sig := FileSig{Size: size, Quick: q}
	if hasKnown && known.Quick == q {
		sig.Hash = known.Hash
	} else {
		h, err := hashPath(path)
		if err != nil {
			return FileSig{}, false, err
		}
		sig.Hash = h
	}
	c.mu.Lock()
	c.fresh[path] = sig
	c.known[path] = sig
	c.mu.Unlock()
	return sig, true, nil
}

// paramLeaves flattens the parameters a dataset name reads ("params:k"
// or "parameters") into leaf → canonical JSON value.
func paramLeaves(params *config.Tree, name string) map[string]string {
	key, _ := catalog.IsParam(name)
	out := map[string]string{}
	var v any
	if key == "" {
		v = params.Values
	} else {
		var ok bool
		if v, ok = params.Get(key); !ok {
			out[key] = "<absent>"
			return out
		}
	}
	flattenParams(key, v, out)
	return out
}

func flattenParams(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for k, x := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenParams(p, x, out)
		}
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", v))
	}
	if len(b) > 80 {
		sum := sha256.Sum256(b)
		b = []byte("sha256:" + hex.EncodeToString(sum[:12]))
	}
	out[prefix] = string(bytes.TrimSpace(b))
}

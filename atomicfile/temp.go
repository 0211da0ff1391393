package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockedError is returned when another live process holds a lock: a
// temporary of the same target, or a Lock.
type LockedError struct {
	Path string // what is being written or locked
	PID  int    // the holder's process id; 0 when unknown
	By   string // the temporary or lock file held
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("%s is being written by %s (it holds %s); wait for that run to finish or stop it", e.Path, who, e.By)
}

// tempPrefixes are the names of path's temporaries: .BASE.tmp-PID-…
// (this package), and .BASE.build-… (lmdbstore's scratch environments).
func tempPrefixes(path string) []string {
	b := "." + filepath.Base(path)
	return []string{b + ".tmp-", b + ".build-"}
}

// CreateTemp creates a temporary file beside path for a write that will
// be renamed into place, after removing stale temporaries of path. The
// file is flocked until closed; while it is open another process's
// CreateTemp or MkdirTemp for path fails with a *LockedError.
func CreateTemp(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, tempPrefixes(path)[0]+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock temporary file for %s: %w", path, err)
	}
	if err := sweep(path, f.Name()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// MkdirTemp creates a temporary directory beside path (as CreateTemp),
// flocked until release is called. kind is "tmp" (or "build").
func MkdirTemp(path string) (dir string, release func(), err error) {
	return mkdirTemp(path, 0)
}

// MkdirBuild is MkdirTemp named .BASE.build-PID-* (lmdbstore's scratch).
func MkdirBuild(path string) (dir string, release func(), err error) {
	return mkdirTemp(path, 1)
}

func mkdirTemp(path string, kind int) (string, func(), error) {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", nil, fmt.Errorf("create directory for %s: %w", path, err)
	}
	dir, err := os.MkdirTemp(parent, tempPrefixes(path)[kind]+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return "", nil, fmt.Errorf("create temporary directory for %s: %w", path, err)
	}
	h, err := os.Open(dir)
	if err == nil {
		err = unix.Flock(int(h.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			h.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock temporary directory for %s: %w", path, err)
	}
	if err := sweep(path, dir); err != nil {
		h.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() { h.Close() }, nil
}

// CleanStale removes the temporaries of path left by killed processes
// (those no live process holds locked) and returns what it removed. A
// directory swap of an earlier version killed between its two renames
// (path missing, .BASE.tmp-X complete beside .BASE.tmp-X.old) is finished
// first: the complete new directory is renamed to path.
func CleanStale(path string) ([]string, error) {
	var removed []string
	err := walkTemps(path, "", func(name string, live bool, pid int) error {
		if !live {
			removed = append(removed, name)
		}
		return nil
	})
	return removed, err
}

// sweep is CleanStale before a write: a live temporary of another writer
// is a *LockedError.
func sweep(path, self string) error {
	return walkTemps(path, self, func(name string, live bool, pid int) error {
		if live {
			return &LockedError{Path: path, PID: pid, By: name}
		}
		return nil
	})
}

// walkTemps visits path's temporaries but self, removing the stale ones
// (after fn saw them).
func walkTemps(path, self string, fn func(name string, live bool, pid int) error) error {
	parent := filepath.Dir(path)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s for stale temporaries: %w", parent, err)
	}
	prefixes := tempPrefixes(path)
	var temps []string
	for _, e := range entries {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Name(), p) {
				temps = append(temps, e.Name())
			}
		}
	}
	if len(temps) == 0 {
		return nil
	}
	recoverEarlierSwap(path, temps)
	for _, name := range temps {
		full := filepath.Join(parent, name)
		if full == self {
			continue
		}
		h, err := os.Open(full)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check temporary %s: %w", full, err)
		}
		lockErr := unix.Flock(int(h.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		live := errors.Is(lockErr, unix.EWOULDBLOCK)
		pid := tempPID(name, prefixes)
		if !live && pid > 0 && processAlive(pid) {
			// Its writer lives but has not locked it yet (or has
			// just released it): neither stale nor a conflict.
			h.Close()
			continue
		}
		if err := fn(full, live, pid); err != nil {
			h.Close()
			return err
		}
		if !live {
			os.RemoveAll(full)
		}
		h.Close()
	}
	return nil
}

// recoverEarlierSwap finishes a directory swap of the earlier WriteDir
// (old moved to .BASE.tmp-X.old, then .BASE.tmp-X renamed to path) that
// was killed between the two renames: path is missing and both exist.
func recoverEarlierSwap(path string, temps []string) {
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return
	}
	parent := filepath.Dir(path)
	for _, name := range temps {
		if !strings.HasSuffix(name, ".old") {
			continue
		}
		newer := filepath.Join(parent, strings.TrimSuffix(name, ".old"))
		if st, err := os.Stat(newer); err == nil && st.IsDir() {
			os.Rename(newer, path)
			return
		}
	}
}

// processAlive reports whether a process with that id exists.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// tempPID reads the writer's pid from a temporary's name (0 if absent).
func tempPID(name string, prefixes []string) int {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(name, p); ok {
			digits, _, _ := strings.Cut(rest, "-")
			if pid, err := strconv.Atoi(digits); err == nil {
				return pid
			}
		}
	}
	return 0
}

// Lock is an exclusive lock on a lock file, held until Unlock or the
// process ends (flock: the kernel releases it when the process dies).
type Lock struct {
	f *os.File
}

// TryLock takes the lock file at path (created if missing, with the
// holder's pid written in it) without waiting: when another process
// holds it, the error is a *LockedError naming what (what is locked,
// e.g. the state folder) and that process's pid.
func TryLock(path, what string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &LockedError{Path: what, PID: pid, By: path}
		}
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Unlock releases the lock (the lock file stays).
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

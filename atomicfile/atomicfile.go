// Package atomicfile writes files and directories so that a reader sees
// either the old content or the complete new content, never a partial
// write: data goes to a temporary sibling first and is renamed into place
// only after it was written and synced without error.
//
// Temporaries are named .BASE.tmp-PID-* beside their target and are held
// under an exclusive flock while being written. Each write (and
// CleanStale, which the catalog calls on load) removes the temporaries of
// the same target left by killed processes; a temporary still locked
// belongs to a live writer, so a second process writing the same target
// fails at once, naming the first one's pid (LockedError).
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mmc/fault"
)

// WriteFile creates path through write. On any error (including a panic
// in write) the temporary file is removed and path is left untouched.
func WriteFile(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	tmp, err := CreateTemp(path)
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	fault.Point("atomicfile.file.written")
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	committed = true
	return nil
}

// WriteBytes is WriteFile for data already in memory.
func WriteBytes(path string, data []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteDir builds a directory (an LMDB environment, an image folder)
// through fill, which receives an empty temporary directory next to path.
// Only when fill succeeds does the temporary directory take path's place,
// in one atomic step: renamed in, or exchanged with the old directory
// (renameat2 RENAME_EXCHANGE), which is then removed. At no moment is
// path missing or partial.
func WriteDir(path string, fill func(tmpDir string) error) (err error) {
	tmp, release, err := MkdirTemp(path)
	if err != nil {
		return err
	}
	defer release()
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	fault.Point("atomicfile.dir.filled")
	if _, statErr := os.Lstat(path); statErr == nil {
		if err := exchange(tmp, path); err != nil {
			return fmt.Errorf("switch %s to its new content: %w", path, err)
		}
		// tmp now holds the old content, removed by the deferred cleanup.
		syncDir(filepath.Dir(path))
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	committed = true
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir fsyncs a directory (its entries, after renames).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// exchangeByRenames swaps a and b with three renames where the file
// system has no atomic exchange; b is missing for a moment.
func exchangeByRenames(a, b string) error {
	aside := a + ".old"
	if err := os.Rename(b, aside); err != nil {
		return err
	}
	if err := os.Rename(a, b); err != nil {
		os.Rename(aside, b)
		return err
	}
	return os.Rename(aside, a)
}

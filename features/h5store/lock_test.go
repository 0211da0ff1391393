package h5store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mmc/atomicfile"
)

// TestSecondWriterFails: while one writer builds a store, a second one
// for the same path fails at once naming the first one's pid; the guard
// goes with the first writer's Close.
func TestSecondWriterFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.h5")
	w, err := Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Create(path, nil)
	var le *atomicfile.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second writer: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	if err := w.Put(sampleRecords(1, 2, 3, false)[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 1 {
		t.Fatalf("left beside the store: %v", es)
	}
}

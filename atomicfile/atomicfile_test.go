package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileKeepsOldContentOnError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "out.json")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(p, func(w io.Writer) error {
		w.Write([]byte("half-writ"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want wrapped boom, got %v", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("content = %q, want old", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriteDirReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "store.lmdb")
	for i, content := range []string{"one", "two"} {
		err := WriteDir(p, func(tmp string) error {
			return os.WriteFile(filepath.Join(tmp, "data.mdb"), []byte(content), 0o644)
		})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := WriteDir(p, func(tmp string) error { return errors.New("fail") }); err == nil {
		t.Fatal("want error")
	}
	got, _ := os.ReadFile(filepath.Join(p, "data.mdb"))
	if string(got) != "two" {
		t.Fatalf("content = %q, want two", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("leftovers: %v", entries)
	}
}

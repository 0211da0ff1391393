package h5store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedSuperblock: an empty, foreign or truncated file is refused
// before libhdf5 reads it, naming the file and what is wrong.
func TestDamagedSuperblock(t *testing.T) {
	data, err := os.ReadFile("testdata/h5py_f4.h5")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.h5", nil, "is empty (0 bytes)"},
		{"foreign.h5", []byte(strings.Repeat("no hdf5 here ", 100)), "not an HDF5 file"},
		{"sig_only.h5", data[:10], "the file is truncated"},
		{"half.h5", data[:len(data)/2], "the file is truncated"},
		{"short.h5", data[:len(data)-1], "the file is truncated"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v, want %q naming the file", c.name, err, c.want)
		}
	}
}

// FuzzOpen opens arbitrary bytes as a feature file and reads every
// record (at most 64): errors, never a panic. What reaches libhdf5 has
// passed checkSuperblock; see doc.go for what libhdf5 itself must parse.
func FuzzOpen(f *testing.F) {
	for _, p := range []string{"testdata/h5py_f4.h5", "testdata/h5py_f8.h5", "testdata/h5py_intids.h5", "testdata/bad_types.h5"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.h5")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			return
		}
		defer s.Close()
		for i, id := range s.IDs() {
			if i >= 64 {
				break
			}
			rec, err := s.Get(id)
			if err != nil {
				continue
			}
			if err := rec.Validate(); err != nil {
				t.Fatalf("an invalid record came back: %v", err)
			}
		}
	})
}

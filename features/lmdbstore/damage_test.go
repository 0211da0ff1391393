package lmdbstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/PowerDNS/lmdb-go/lmdb"

	"mmc/features"
)

// bigRecords are enough images, wide enough, for branch pages and
// multi-page overflow values.
func bigRecords(n, dim int) []*features.Record {
	var recs []*features.Record
	for i := 0; i < n; i++ {
		boxes := 1 + i%5
		rec := &features.Record{ID: fmt.Sprintf("%05d", i*37%100000), Dim: dim, NumBoxes: boxes, ImageW: 100 + i, ImageH: 50 + i}
		for j := 0; j < boxes*dim; j++ {
			rec.Features = append(rec.Features, float32(i)+float32(j)/float32(dim))
		}
		for j := 0; j < boxes; j++ {
			rec.Boxes = append(rec.Boxes, 1, 2, float32(10+j), float32(20+j))
			rec.Objects = append(rec.Objects, int64(j))
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestReaderMatchesLiblmdb reads a store with branch pages and overflow
// values, and the Python-written fixtures, through the pure-Go reader
// and through liblmdb: the same keys in the same order, the same bytes.
func TestReaderMatchesLiblmdb(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.lmdb")
	recs := bigRecords(300, 300)
	writeStore(t, path, &Options{MapSize: 1 << 28}, recs)
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.db.meta.depth < 2 {
		t.Fatalf("the test store has depth %d, want branch pages", r.db.meta.depth)
	}
	for _, want := range recs {
		got, err := r.Get(want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameRecord(got, want) {
			t.Fatalf("record %q differs", want.ID)
		}
	}
	if _, ok, err := r.db.get([]byte("no such key")); ok || err != nil {
		t.Fatalf("absent key: found %v, %v", ok, err)
	}
	for _, p := range []string{path, "testdata/mmf.lmdb", "testdata/vmt.lmdb", "testdata/mmf_single.lmdb"} {
		t.Run(filepath.Base(p), func(t *testing.T) { compareWithLiblmdb(t, p) })
	}
}

func compareWithLiblmdb(t *testing.T, path string) {
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	env, err := lmdb.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	var flags uint = lmdb.Readonly | lmdb.NoLock
	if st, _ := os.Stat(path); !st.IsDir() {
		flags |= lmdb.NoSubdir
	}
	if err := env.Open(path, flags, 0o644); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = env.View(func(txn *lmdb.Txn) error {
		dbi, err := txn.OpenRoot(0)
		if err != nil {
			return err
		}
		cur, err := txn.OpenCursor(dbi)
		if err != nil {
			return err
		}
		defer cur.Close()
		for {
			k, v, err := cur.Get(nil, nil, lmdb.Next)
			if lmdb.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			keys = append(keys, string(k))
			got, ok, err := r.db.get(k)
			if err != nil || !ok || !reflect.DeepEqual(got, v) {
				return fmt.Errorf("key %q: pure-Go read (%d bytes, found %v, %v) differs from liblmdb's (%d bytes)", k, len(got), ok, err, len(v))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	if err := r.db.walk(func(k []byte) error { walked = append(walked, string(k)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 || !reflect.DeepEqual(walked, keys) {
		t.Fatalf("walk gave %d keys, liblmdb's cursor %d", len(walked), len(keys))
	}
}

// TestOpenDamagedFile: a truncated, empty or overwritten data.mdb is an
// error naming the file and what is wrong, before any record is read.
func TestOpenDamagedFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.lmdb")
	writeStore(t, src, &Options{MapSize: 1 << 26}, bigRecords(40, 500))
	good, err := os.ReadFile(filepath.Join(src, "data.mdb"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "is empty (0 bytes)"},
		{"truncated to half", good[:len(good)/2], "the file is truncated"},
		{"truncated to one page", good[:4096], "the file is truncated"},
		{"truncated mid meta", good[:100], "too short"},
		{"not lmdb", []byte(strings.Repeat("not an lmdb file ", 1000)), "not an LMDB environment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "detectron.lmdb")
			os.Mkdir(dir, 0o755)
			file := filepath.Join(dir, "data.mdb")
			if err := os.WriteFile(file, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), file) {
				t.Fatalf("Open = %v, want an error naming %s and saying %q", err, file, c.want)
			}
		})
	}
}

// TestTruncatedWhileOpen: a store that shrinks under an open reader
// gives errors, not SIGBUS.
func TestTruncatedWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detectron.lmdb")
	recs := bigRecords(40, 500)
	writeStore(t, path, &Options{MapSize: 1 << 26}, recs)
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(filepath.Join(path, "data.mdb"), 3*4096); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, rec := range recs {
		if _, err := r.Get(rec.ID); err != nil {
			failed++
			if !strings.Contains(err.Error(), "data.mdb") || !strings.Contains(err.Error(), rec.ID) {
				t.Fatalf("error names neither file nor key: %v", err)
			}
		}
	}
	if failed == 0 {
		t.Fatal("every read succeeded after truncation")
	}
}

// TestCorruptPages flips bytes all over the file: every Open and Get
// returns or fails, none panics, and records that do come back are
// valid.
func TestCorruptPages(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.lmdb")
	recs := bigRecords(60, 200)
	writeStore(t, src, &Options{MapSize: 1 << 26}, recs)
	good, err := os.ReadFile(filepath.Join(src, "data.mdb"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := filepath.Join(t.TempDir(), "bad.lmdb")
	os.Mkdir(dir, 0o755)
	for trial := 0; trial < 200; trial++ {
		bad := append([]byte(nil), good...)
		for k := 0; k < 1+trial%8; k++ {
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		}
		if err := os.WriteFile(filepath.Join(dir, "data.mdb"), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		readAll(t, dir)
	}
}

// readAll opens path and reads every record, checking whatever it
// returns; errors are fine, panics fail the test.
func readAll(t *testing.T, path string) {
	r, err := Open(path, nil)
	if err != nil {
		return
	}
	defer r.Close()
	for i, id := range r.IDs() {
		if i > 200 {
			break
		}
		rec, err := r.GetKey(id)
		if err != nil {
			continue
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("an invalid record came back: %v", err)
		}
	}
}

// FuzzOpen opens arbitrary bytes as a single-file environment and reads
// every record: errors, never panics or faults.
func FuzzOpen(f *testing.F) {
	for _, p := range []string{"testdata/mmf.lmdb/data.mdb", "testdata/vmt.lmdb/data.mdb", "testdata/mmf_single.lmdb"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-4096])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.lmdb")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		readAll(t, path)
	})
}

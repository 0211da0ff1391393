package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"mmc/config"
)

// fakeS3 starts an S3-protocol server on 127.0.0.1 with one bucket and
// returns the credentials tree naming it "fake_s3".
func fakeS3(t *testing.T, bucket string) (*config.Tree, *s3mem.Backend) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	creds, err := config.ParseFile("credentials.yml", []byte(fmt.Sprintf(
		"fake_s3:\n  key: test-key\n  secret: test-secret\n  endpoint_url: %s\n  region: us-east-1\n", srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	return creds, backend
}

// sidecarFormat writes <path> and <stem>.json beside it, like a
// checkpoint; folderFormat writes a folder of two files.
func testFormats() []Format {
	return append(Builtin(),
		Format{Name: "sidecar", NeedsFilepath: true, New: func(s Spec) (Dataset, error) { return &sidecarDS{path: s.Filepath}, nil }},
		Format{Name: "folder", NeedsFilepath: true, New: func(s Spec) (Dataset, error) { return &folderDS{path: s.Filepath}, nil }},
	)
}

type sidecarDS struct{ path string }

func (d *sidecarDS) side() string { return strings.TrimSuffix(d.path, filepath.Ext(d.path)) + ".json" }
func (d *sidecarDS) Load(context.Context, reflect.Type) (any, error) {
	a, err := os.ReadFile(d.path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.side())
	if err != nil {
		return nil, err
	}
	return string(a) + "+" + string(b), nil
}
func (d *sidecarDS) Save(_ context.Context, v any) error {
	if err := os.WriteFile(d.path, []byte(v.(string)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(d.side(), []byte(`{"side":true}`), 0o644)
}
func (d *sidecarDS) Exists() (bool, error) { return fileExists(d.path) }
func (d *sidecarDS) Describe() string      { return "sidecar " + d.path }

type folderDS struct{ path string }

func (d *folderDS) Load(context.Context, reflect.Type) (any, error) {
	a, err := os.ReadFile(filepath.Join(d.path, "a.txt"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.path, "sub", "b.txt"))
	return string(a) + string(b), err
}
func (d *folderDS) Save(_ context.Context, v any) error {
	if err := os.MkdirAll(filepath.Join(d.path, "sub"), 0o755); err != nil {
		return err
	}
	s := v.(string)
	if err := os.WriteFile(filepath.Join(d.path, "a.txt"), []byte(s[:1]), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.path, "sub", "b.txt"), []byte(s[1:]), 0o644)
}
func (d *folderDS) Exists() (bool, error) { return fileExists(d.path) }
func (d *folderDS) Describe() string      { return "folder " + d.path }

func remoteCatalog(t *testing.T, catalogYAML string, creds *config.Tree) *Catalog {
	t.Helper()
	conf, err := config.ParseFile("catalog.yml", []byte(catalogYAML))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(conf, nil, Options{Formats: testFormats(), Credentials: creds, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRemoteRoundTrip saves and loads each kind of dataset (one file, a
// file with a sidecar, a folder) in an S3 bucket served on 127.0.0.1 and
// in a file:// bucket.
func TestRemoteRoundTrip(t *testing.T) {
	creds, backend := fakeS3(t, "mmc")
	fileRoot := filepath.ToSlash(t.TempDir())
	for _, tc := range []struct{ name, prefix, cred string }{
		{"s3", "s3://mmc/data", "\n  credentials: fake_s3"},
		{"file", "file://" + fileRoot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := remoteCatalog(t, fmt.Sprintf(`
report:
  type: json
  filepath: %[1]s/08_reporting/report.json%[2]s
model:
  type: sidecar
  filepath: %[1]s/06_models/best.safetensors%[2]s
store:
  type: folder
  filepath: %[1]s/03_features/store.lmdb%[2]s
`, tc.prefix, tc.cred), creds)
			ctx := context.Background()
			for _, ds := range []struct {
				name string
				typ  reflect.Type
				save any
				want any
			}{
				{"report", reflect.TypeFor[map[string]int](), map[string]int{"auroc": 1}, map[string]int{"auroc": 1}},
				{"model", reflect.TypeFor[string](), "weights", `weights+{"side":true}`},
				{"store", reflect.TypeFor[string](), "xyz", "xyz"},
			} {
				if ok, err := c.Exists(ds.name); ok || err != nil {
					t.Fatalf("%s exists before saving: %v %v", ds.name, ok, err)
				}
				_, err := c.Load(ctx, ds.name, ds.typ)
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("load %s before saving: %v, want ErrNotFound", ds.name, err)
				}
				if err := c.Save(ctx, ds.name, ds.save); err != nil {
					t.Fatal(err)
				}
				if ok, err := c.Exists(ds.name); !ok || err != nil {
					t.Fatalf("%s does not exist after saving: %v %v", ds.name, ok, err)
				}
				got, err := c.Load(ctx, ds.name, ds.typ)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, ds.want) {
					t.Errorf("%s: loaded %v, want %v", ds.name, got, ds.want)
				}
			}
			if tc.name == "s3" {
				objs, err := backend.ListBucket("mmc", nil, gofakes3.ListBucketPage{})
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for _, o := range objs.Contents {
					keys = append(keys, o.Key)
				}
				want := "data/03_features/store.lmdb/a.txt data/03_features/store.lmdb/sub/b.txt data/06_models/best.json data/06_models/best.safetensors data/08_reporting/report.json"
				if strings.Join(keys, " ") != want {
					t.Errorf("bucket holds %v, want %s (no temporary keys left)", keys, want)
				}
			}
		})
	}
}

// TestRemoteCacheFollowsETag: an unchanged object is staged once; a
// changed one (a new ETag) is staged again.
func TestRemoteCacheFollowsETag(t *testing.T) {
	creds, _ := fakeS3(t, "mmc")
	c := remoteCatalog(t, "notes:\n  type: text\n  filepath: s3://mmc/notes.txt\n  credentials: fake_s3\n", creds)
	ctx := context.Background()
	ds, err := c.dataset("notes")
	if err != nil {
		t.Fatal(err)
	}
	rd := ds.(*remoteDataset)
	if err := c.Save(ctx, "notes", "one"); err != nil {
		t.Fatal(err)
	}
	p1, err := rd.stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := rd.stage(ctx)
	if p1 != p2 {
		t.Errorf("unchanged object staged twice: %s, %s", p1, p2)
	}
	if err := c.Save(ctx, "notes", "two!"); err != nil {
		t.Fatal(err)
	}
	p3, _ := rd.stage(ctx)
	if p3 == p1 {
		t.Errorf("changed object served from the old cache entry %s", p1)
	}
	if got, _ := c.Load(ctx, "notes", reflect.TypeFor[string]()); got != "two!" {
		t.Errorf("loaded %q, want two!", got)
	}
}

func TestRemoteConfigErrors(t *testing.T) {
	creds, _ := fakeS3(t, "mmc")
	bad, _ := config.ParseFile("credentials.yml", []byte("typo:\n  kye: x\n  secret: y\n"))
	for _, tc := range []struct {
		name, entry string
		creds       *config.Tree
		want        string
	}{
		{"unknown credentials", "  filepath: s3://mmc/x.json\n  credentials: fake_s4\n", creds, `credentials "fake_s4" not found`},
		{"misspelled key", "  filepath: s3://mmc/x.json\n  credentials: typo\n", bad, `unknown key "kye"`},
		{"no bucket", "  filepath: s3:///x.json\n", creds, "has no bucket"},
		{"unknown scheme", "  filepath: ftp://host/x.json\n", creds, `scheme "ftp" is not supported`},
		{"dot-dot", "  filepath: s3://mmc/a/../x.json\n", creds, "'..' and empty parts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := remoteCatalog(t, "x:\n  type: json\n"+tc.entry, tc.creds)
			err := c.Check("x", reflect.TypeFor[map[string]int]())
			if err == nil {
				_, err = c.Load(context.Background(), "x", reflect.TypeFor[map[string]int]())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestIsRemote(t *testing.T) {
	for p, want := range map[string]bool{
		"s3://b/k": true, "gs://b/k": true, "azblob://c/k": true, "file:///tmp/x": true,
		"data/01_raw/x.json": false, "/abs/x": false, `C:\x`: false, "./a://b": false,
	} {
		if got := IsRemote(p); got != want {
			t.Errorf("IsRemote(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestRemoteVersioned: a versioned dataset in a bucket keeps Kedro's
// layout <filepath>/<version>/<base>; loads take the latest version or
// the pinned one.
func TestRemoteVersioned(t *testing.T) {
	creds, backend := fakeS3(t, "mmc")
	conf, _ := config.ParseFile("catalog.yml", []byte("m:\n  type: json\n  filepath: s3://mmc/metrics.json\n  versioned: true\n  credentials: fake_s3\n"))
	ctx := context.Background()
	cache := t.TempDir()
	v1, v2 := "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
	for i, ver := range []string{v1, v2} {
		c, err := New(conf, nil, Options{SaveVersion: ver, Credentials: creds, CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Save(ctx, "m", map[string]int{"v": i + 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.Save(ctx, "m", map[string]int{"v": 9}); err == nil || !strings.Contains(err.Error(), "must not exist") {
			t.Errorf("second save of version %s: %v", ver, err)
		}
	}
	if _, err := backend.HeadObject("mmc", "metrics.json/"+v2+"/metrics.json"); err != nil {
		t.Errorf("no object at Kedro's versioned key: %v", err)
	}
	for _, tc := range []struct {
		pin  map[string]string
		want int
	}{{nil, 2}, {map[string]string{"m": v1}, 1}} {
		c, err := New(conf, nil, Options{Credentials: creds, CacheDir: cache, LoadVersions: tc.pin})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Load(ctx, "m", reflect.TypeFor[map[string]int]())
		if err != nil {
			t.Fatal(err)
		}
		if got.(map[string]int)["v"] != tc.want {
			t.Errorf("pin %v: loaded %v, want v=%d", tc.pin, got, tc.want)
		}
	}
}

// FuzzParseRemote: filepaths come from catalog files; parsing never
// panics and never yields a key that climbs out of its bucket.
func FuzzParseRemote(f *testing.F) {
	for _, s := range []string{"s3://b/k", "s3://b/a/../k", "gs://b/", "file:///tmp/x", "azblob://c/k?x=1", "s3://b/./k", "file://host/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRemote(s)
		if err != nil {
			return
		}
		if r.key == "" || strings.HasPrefix(r.key, "/") {
			t.Fatalf("parseRemote(%q): key %q", s, r.key)
		}
		for _, part := range strings.Split(r.key, "/") {
			if part == ".." {
				t.Fatalf("parseRemote(%q): key %q climbs out", s, r.key)
			}
		}
	})
}

package viz

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// A preview reads only files under the project root, whatever a
// catalog entry says and whatever links lie in the project.
func TestPreviewServesOnlyProjectFiles(t *testing.T) {
	root := sampleProject(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("\x89PNG secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.jsonl"), []byte(`{"password": "hunter2"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "data", "escape")); err != nil {
		t.Fatal(err)
	}
	g := Graph{
		Name:  "p",
		Nodes: []Node{{Name: "n", Inputs: []string{"memes", "absin", "up", "abs", "link", "linkimg", "remote"}, Outputs: []string{"out"}}},
		Datasets: []Dataset{
			{Name: "memes", Type: "jsonl", Filepath: "data/01_raw/train.jsonl"},
			{Name: "absin", Type: "jsonl", Filepath: filepath.Join(root, "data/01_raw/train.jsonl")},
			{Name: "up", Type: "jsonl", Filepath: "data/../../" + filepath.Base(outside) + "/secret.jsonl"},
			{Name: "abs", Type: "png", Filepath: secret},
			{Name: "link", Type: "jsonl", Filepath: "data/escape/secret.jsonl"},
			{Name: "linkimg", Type: "png", Filepath: "data/escape/secret.png"},
			{Name: "remote", Type: "png", Filepath: "s3://bucket/x.png"},
			{Name: "out", Type: "json", Filepath: "data/out.json"},
		},
	}
	s, err := NewServer(Options{Pipelines: []Graph{g}, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	pv := func(name string) (int, string) {
		code, _, body := get(t, srv.URL+"/api/preview/"+ID(KindData, name))
		return code, body
	}
	for _, name := range []string{"memes", "absin"} {
		if code, body := pv(name); code != 200 || !strings.Contains(body, "meme number 0") {
			t.Errorf("project file %s: %d %s", name, code, body)
		}
	}
	for _, name := range []string{"up", "abs", "link", "linkimg", "remote"} {
		code, body := pv(name)
		if strings.Contains(body, "hunter2") || code != 200 {
			t.Errorf("%s: %d %s", name, code, body)
		}
		var p Preview
		if err := json.Unmarshal([]byte(body), &p); err != nil || p.Kind != "none" || p.Note == "" {
			t.Errorf("%s: preview %+v (%v), want none with a reason", name, p, err)
		}
		code, _, raw := get(t, srv.URL+"/api/preview/"+ID(KindData, name)+"/raw")
		if code == 200 || strings.Contains(raw, "PNG secret") {
			t.Errorf("%s raw: %d %q", name, code, raw)
		}
	}
	// Only datasets of the graph, by ID: no path in the URL is read.
	for _, path := range []string{"/api/preview/..%2F..%2Fetc%2Fpasswd", "/api/preview/" + ID(KindTask, "n"), "/api/preview/x/raw", "/data/01_raw/train.jsonl", "/../data/01_raw/train.jsonl"} {
		if code, _, body := get(t, srv.URL+path); code == 200 {
			t.Errorf("GET %s = 200 %.80s", path, body)
		}
	}
	// Images inside a folder dataset, and nothing outside it.
	g2 := Graph{Name: "f", Nodes: []Node{{Name: "n", Inputs: []string{"folder"}}},
		Datasets: []Dataset{{Name: "folder", Type: "meme_folder", Filepath: "data/01_raw/folder"}}}
	s2, err := NewServer(Options{Pipelines: []Graph{g2}, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(s2.Handler())
	defer srv2.Close()
	fid := ID(KindData, "folder")
	var fp Preview
	_, _, body := get(t, srv2.URL+"/api/preview/"+fid)
	if err := json.Unmarshal([]byte(body), &fp); err != nil || fp.Kind != "dir" || len(fp.Rows) != 10 || len(fp.Images) != 2 {
		t.Errorf("folder preview %s (%v)", body, err)
	}
	if code, ctype, _ := get(t, srv2.URL+"/api/preview/"+fid+"/raw?file=img/00001.png"); code != 200 || ctype != "image/png" {
		t.Errorf("folder image: %d %s", code, ctype)
	}
	for _, file := range []string{"../../escape/secret.png", "/etc/passwd", "img/../../../escape/secret.png", "../train.jsonl", "train.jsonl", "."} {
		if code, _, raw := get(t, srv2.URL+"/api/preview/"+fid+"/raw?file="+url.QueryEscape(file)); code == 200 || strings.Contains(raw, "PNG secret") {
			t.Errorf("file=%s: %d %.60q", file, code, raw)
		}
	}
	// The status of a missing output.
	if code, body := pv("out"); code != 200 || !strings.Contains(body, "not written yet") {
		t.Errorf("missing output: %d %s", code, body)
	}
}

// Served for real, previews and runs answer only to this machine's names.
func TestPreviewRefusesForeignHost(t *testing.T) {
	root := sampleProject(t)
	s, err := NewServer(Options{Pipelines: []Graph{sampleGraph()}, Root: root, Runs: &fakeRuns{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		t.Fatalf("bound to %v", ln.Addr())
	}
	ctx, cancel := contextWithCancel()
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	for _, path := range []string{"/api/preview/" + ID(KindData, "memes"), "/api/runs", "/api/datasets", "/api/version"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = "evil.example:80"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host evil.example: %d", path, res.StatusCode)
		}
		res, err = http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestHistorySeries(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"epochs": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}], "best_epoch": 2}`, `{"epoch":[1,2],"loss":[0.5,0.4]}`},
		{`[{"a": 1}, {"a": 2, "b": 3}]`, `{"a":[1,2]}`},
		{`{"auroc": 0.7}`, `null`},
		{`[1, 2, 3]`, `null`},
	} {
		var v any
		json.Unmarshal([]byte(tc.in), &v)
		got, _ := json.Marshal(HistorySeries(v))
		if string(got) != tc.want {
			t.Errorf("HistorySeries(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// FuzzPreview feeds arbitrary bytes to the preview readers of JSONL, CSV
// and JSON files: no panic, at most previewRows rows, every row as wide
// as the columns.
func FuzzPreview(f *testing.F) {
	f.Add([]byte(`{"a": 1, "b": "x"}`+"\n"+`{"c": [1, 2]}`+"\n"), "data.jsonl")
	f.Add([]byte("a,b\n1,2\n\"3,4\n"), "data.csv")
	f.Add([]byte(`{"epochs": [{"loss": 1}, {"loss": 0.5}]}`), "history.json")
	f.Add([]byte("not json\n\x00\xff"), "x.jsonl")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		root := t.TempDir()
		ext := path.Ext(name)
		if ext == "" || strings.ContainsAny(ext, `/\`) {
			ext = ".jsonl"
		}
		file := "data/f" + ext
		if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(file)), b, 0o644); err != nil {
			t.Skip(err)
		}
		r, err := os.OpenRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		pv := previewFile(r, root, Dataset{Name: "f", Type: "x", Filepath: file}, Preview{}, "p")
		if len(pv.Rows) > previewRows {
			t.Errorf("%d rows", len(pv.Rows))
		}
		if pv.Kind == "table" && strings.HasSuffix(file, ".jsonl") {
			for _, row := range pv.Rows {
				if len(row) != len(pv.Columns) {
					t.Errorf("row %v for columns %v", row, pv.Columns)
				}
			}
		}
		if _, err := json.Marshal(pv); err != nil {
			t.Errorf("preview does not encode: %v", err)
		}
	})
}

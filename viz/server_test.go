package viz

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

func TestHandlerServesPageAndAPI(t *testing.T) {
	g := sampleGraph()
	h, err := Handler(g)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	code, ctype, page := get(t, srv.URL+"/")
	if code != 200 || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("GET / = %d %s", code, ctype)
	}
	// Every asset the page links must be served, and none may come from
	// another host.
	for _, asset := range []string{"style.css", "app.js"} {
		if !strings.Contains(page, `"`+asset+`"`) {
			t.Errorf("page does not link %s", asset)
		}
		if code, _, body := get(t, srv.URL+"/"+asset); code != 200 || len(body) < 100 {
			t.Errorf("GET /%s = %d (%d bytes)", asset, code, len(body))
		}
	}
	if strings.Contains(page, "http://") && !strings.Contains(page, "http://www.w3.org/2000/svg") || strings.Contains(page, "https://") {
		t.Error("page references an external URL")
	}

	code, ctype, body := get(t, srv.URL+"/api/main")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("GET /api/main = %d %s", code, ctype)
	}
	var want bytes.Buffer
	if err := RenderJSON(&want, g); err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal([]byte(body), &a)
	json.Unmarshal(want.Bytes(), &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Error("/api/main differs from RenderJSON")
	}

	code, _, body = get(t, srv.URL+"/api/layout")
	var lays Layouts
	if err := json.Unmarshal([]byte(body), &lays); code != 200 || err != nil {
		t.Fatalf("GET /api/layout = %d, %v", code, err)
	}
	if len(lays.WithParams.Boxes) != 15 || len(lays.WithoutParams.Boxes) != 11 {
		t.Errorf("layout boxes %d / %d, want 15 / 11", len(lays.WithParams.Boxes), len(lays.WithoutParams.Boxes))
	}

	code, _, body = get(t, srv.URL+"/api/nodes/"+ID(KindTask, "train"))
	var n APINode
	if err := json.Unmarshal([]byte(body), &n); code != 200 || err != nil || n.Source != "nodes/train.go:40" || len(n.Inputs) != 3 {
		t.Errorf("GET /api/nodes/<train> = %d %v %+v", code, err, n)
	}
	code, _, body = get(t, srv.URL+"/api/layout/view?params=1&collapse=features")
	var view Layout
	if err := json.Unmarshal([]byte(body), &view); code != 200 || err != nil || !slices.Equal(view.Collapsed, []string{"features"}) || len(view.Boxes) != 14 {
		t.Errorf("GET /api/layout/view = %d %v collapsed %v, %d boxes", code, err, view.Collapsed, len(view.Boxes))
	}
	if code, _, body := get(t, srv.URL+"/api/layout/view?collapse=nope"); code != 400 || !strings.Contains(body, `"nope"`) {
		t.Errorf("unknown namespace: %d %s", code, body)
	}
	if code, _, _ := get(t, srv.URL+"/api/nodes/nope"); code != 404 {
		t.Errorf("unknown node: %d, want 404", code)
	}
	if code, _, _ := get(t, srv.URL+"/api/pipelines/__default__"); code != 200 {
		t.Errorf("own pipeline: %d", code)
	}
	if code, _, body := get(t, srv.URL+"/api/pipelines/other"); code != 404 || !strings.Contains(body, `"__default__"`) {
		t.Errorf("other pipeline: %d %s", code, body)
	}
}

func TestHandlerRejectsInvalidGraph(t *testing.T) {
	g := Graph{Name: "bad", Nodes: []Node{{Name: "a"}, {Name: "a"}}}
	if _, err := Handler(g); err == nil {
		t.Fatal("Handler accepted duplicate nodes")
	}
	if err := Serve(context.Background(), "127.0.0.1:0", g); err == nil {
		t.Fatal("Serve accepted duplicate nodes")
	}
}

func TestServeBindsLoopbackAndStops(t *testing.T) {
	ln, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	if host := ln.Addr().String(); !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("listening on %s, want 127.0.0.1", host)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, sampleGraph()) }()
	if code, _, _ := get(t, "http://"+ln.Addr().String()+"/api/main"); code != 200 {
		t.Errorf("GET /api/main = %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeListener did not stop after cancel")
	}
	if _, err := Listen("no-port"); err == nil || !strings.Contains(err.Error(), `"no-port"`) {
		t.Errorf("bad address error: %v", err)
	}
}

func TestBuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	g := sampleGraph()
	if err := Build(dir, g); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "app.js", "style.css", "api/main", "api/layout", "api/pipelines/__default__", "api/nodes/" + ID(KindData, "memes")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("build lacks %s: %v", f, err)
		}
	}
	// The static site answers what the server answers.
	h, _ := Handler(g)
	srv := httptest.NewServer(h)
	defer srv.Close()
	static := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer static.Close()
	for _, p := range []string{"/api/main", "/api/layout", "/api/nodes/" + ID(KindTask, "report"), "/app.js"} {
		_, _, live := get(t, srv.URL+p)
		_, _, built := get(t, static.URL+p)
		if live != built {
			t.Errorf("%s differs between server and build", p)
		}
	}
	// Rebuilding replaces the old site.
	g.Nodes = g.Nodes[:1]
	if err := Build(dir, g); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "api/nodes", ID(KindTask, "report"))); !os.IsNotExist(err) {
		t.Errorf("stale node file survived a rebuild: %v", err)
	}
	if err := Build(filepath.Join(t.TempDir(), "x"), Graph{Name: "../up"}); err == nil {
		t.Error("Build accepted a pipeline name with a slash")
	}
}

package viz

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"
)

// web holds the single-page app: plain HTML, CSS and JavaScript, no build
// step and nothing fetched from the network.
//
//go:embed web
var web embed.FS

// Layouts is the body of GET /api/layout: the graph laid out with and
// without parameter items, so the page toggles parameters without a
// layout engine of its own.
type Layouts struct {
	WithParams    Layout `json:"with_params"`
	WithoutParams Layout `json:"without_params"`
}

// site is everything the page reads, encoded once: the graph does not
// change while it is served.
type site struct {
	r       *resolved
	main    []byte
	layout  []byte
	nodes   map[string][]byte
	name    string
	modTime time.Time
}

func newSite(g Graph) (*site, error) {
	r, err := resolve(g)
	if err != nil {
		return nil, err
	}
	s := &site{r: r, nodes: map[string][]byte{}, name: g.Name, modTime: time.Now()}
	if s.main, err = json.Marshal(r.main()); err != nil {
		return nil, fmt.Errorf("viz: encoding /api/main of %q: %w", g.Name, err)
	}
	var lay Layouts
	if lay.WithParams, err = r.layout(LayoutOptions{}); err != nil {
		return nil, err
	}
	if lay.WithoutParams, err = r.layout(LayoutOptions{HideParams: true}); err != nil {
		return nil, err
	}
	if s.layout, err = json.Marshal(lay); err != nil {
		return nil, fmt.Errorf("viz: encoding /api/layout of %q: %w", g.Name, err)
	}
	for _, it := range r.items {
		b, err := json.Marshal(r.apiNode(it))
		if err != nil {
			return nil, fmt.Errorf("viz: encoding node %q of %q: %w", it.Name, g.Name, err)
		}
		s.nodes[it.ID] = b
	}
	return s, nil
}

// Handler serves the viewer for g: the page at /, and the JSON API at
// /api/main (Kedro-Viz's shape, as RenderJSON writes it), /api/layout
// (the expanded layouts, with and without parameters), /api/layout/view
// (one layout on demand: ?params=1 shows parameters, ?collapse=a,b
// collapses namespaces), /api/nodes/{id} and /api/pipelines/{name}.
func Handler(g Graph) (http.Handler, error) {
	s, err := newSite(g)
	if err != nil {
		return nil, err
	}
	assets, err := fs.Sub(web, "web")
	if err != nil {
		return nil, fmt.Errorf("viz: embedded web assets: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(assets))
	mux.HandleFunc("GET /api/main", s.serveJSON(s.main))
	mux.HandleFunc("GET /api/layout", s.serveJSON(s.layout))
	mux.HandleFunc("GET /api/layout/view", s.serveView)
	mux.HandleFunc("GET /api/pipelines/{name}", func(w http.ResponseWriter, req *http.Request) {
		if req.PathValue("name") != s.name {
			http.Error(w, fmt.Sprintf("no pipeline %q here; this viewer shows %q", req.PathValue("name"), s.name), http.StatusNotFound)
			return
		}
		s.serveJSON(s.main)(w, req)
	})
	mux.HandleFunc("GET /api/nodes/{id}", func(w http.ResponseWriter, req *http.Request) {
		b, ok := s.nodes[req.PathValue("id")]
		if !ok {
			http.Error(w, fmt.Sprintf("no node with id %q", req.PathValue("id")), http.StatusNotFound)
			return
		}
		s.serveJSON(b)(w, req)
	})
	return mux, nil
}

// serveView lays the graph out as the query asks; views are cheap to
// compute and too many to precompute (one per set of collapsed namespaces).
func (s *site) serveView(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	opt := LayoutOptions{HideParams: q.Get("params") != "1"}
	for _, ns := range strings.Split(q.Get("collapse"), ",") {
		if ns != "" {
			opt.Collapse = append(opt.Collapse, ns)
		}
	}
	lay, err := s.r.layout(opt)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := json.Marshal(lay)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (s *site) serveJSON(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		http.ServeContent(w, req, "", s.modTime, bytes.NewReader(body))
	}
}

// Serve serves the viewer for g on addr until ctx is cancelled. An addr
// without a host ("", ":4141") binds 127.0.0.1 only: the viewer shows
// file paths and parameter values and is not meant for the network.
func Serve(ctx context.Context, addr string, g Graph) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, g)
}

// Listen opens the TCP listener Serve would use, so a caller can learn the
// port (for ":0") and print the URL before serving.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if addr != "" {
			return nil, fmt.Errorf("viz: address %q: %w", addr, err)
		}
		host, port = "", "4141"
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("viz: listening on %s: %w", net.JoinHostPort(host, port), err)
	}
	return namedListener{ln, host}, nil
}

// namedListener remembers the host name the user asked to bind, which
// the Host check accepts beside the bound address.
type namedListener struct {
	net.Listener
	host string
}

// ServeListener serves the viewer for g on ln until ctx is cancelled, then
// shuts down gracefully. It returns nil after a cancellation. Requests
// whose Host header does not name this server are refused (HostGuard).
func ServeListener(ctx context.Context, ln net.Listener, g Graph) error {
	h, err := Handler(g)
	if err != nil {
		ln.Close()
		return err
	}
	requested := ""
	if nl, ok := ln.(namedListener); ok {
		requested = nl.host
	}
	h = HostGuard(h, allowedHosts(requested, ln.Addr())...)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("viz: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("viz: shutting down %s: %w", ln.Addr(), err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("viz: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

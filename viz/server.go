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
	"slices"
	"strings"
	"sync"
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
	// WithParams is left out for a large graph served live (the page
	// asks /api/layout/view?params=1 when the user shows parameters):
	// parameters read all over a big pipeline make a slow layout.
	WithParams    *Layout `json:"with_params,omitempty"`
	WithoutParams Layout  `json:"without_params"`
}

// eagerParamsItems is the size up to which a served site lays out the
// view with parameters before it is asked for.
const eagerParamsItems = 1500

// site is everything the page reads about one pipeline, encoded once: a
// graph does not change while it is served (autoreload swaps whole sites).
type site struct {
	r       *resolved
	main    []byte
	layout  []byte
	nodes   map[string][]byte
	name    string
	modTime time.Time
}

func newSite(g Graph, static bool, pipelines ...string) (*site, error) {
	r, err := resolve(g)
	if err != nil {
		return nil, err
	}
	s := &site{r: r, nodes: map[string][]byte{}, name: g.Name, modTime: time.Now()}
	m := r.main()
	if len(pipelines) > 0 {
		m.Pipelines = m.Pipelines[:0]
		for _, p := range pipelines {
			m.Pipelines = append(m.Pipelines, NamedID{ID: p, Name: p})
		}
	}
	if s.main, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("viz: encoding /api/main of %q: %w", g.Name, err)
	}
	var lay Layouts
	if static || len(r.items) <= eagerParamsItems {
		with, err := r.layout(LayoutOptions{})
		if err != nil {
			return nil, err
		}
		lay.WithParams = &with
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

// Options configures a Server.
type Options struct {
	// Pipelines are the graphs to serve, each under /api/pipelines/{name};
	// the first is shown first unless Selected names another.
	Pipelines []Graph
	Selected  string
	// Root is the project directory that dataset file paths are relative
	// to: previews and dataset status read files under it and nowhere
	// else. Empty: no previews.
	Root string
	// Runs, when set, feeds the runs view and the compare page.
	Runs RunStore
	// Autoreload tells the page to reload itself when Update swaps in new
	// graphs (the page polls /api/version).
	Autoreload bool
}

// Server serves the viewer for a set of pipelines. Update replaces the
// pipelines while it serves (for --autoreload).
type Server struct {
	opt     Options
	mu      sync.RWMutex
	sites   map[string]*site
	order   []string
	version int
	started time.Time
}

// NewServer lays out every pipeline of opt and returns a Server for them.
func NewServer(opt Options) (*Server, error) {
	s := &Server{opt: opt, started: time.Now()}
	if err := s.Update(opt.Pipelines); err != nil {
		return nil, err
	}
	return s, nil
}

// Update replaces the served pipelines; pages that poll /api/version see
// the change and reload. On error the old pipelines stay.
func (s *Server) Update(pipelines []Graph) error {
	if len(pipelines) == 0 {
		return errors.New("viz: no pipeline to serve")
	}
	names := make([]string, len(pipelines))
	for i, g := range pipelines {
		names[i] = g.Name
	}
	sel := s.opt.Selected
	if sel == "" {
		sel = names[0]
	}
	if !slices.Contains(names, sel) {
		return fmt.Errorf("viz: selected pipeline %q is not among those served (%s)", sel, strings.Join(names, ", "))
	}
	// The selected pipeline first: /api/main answers for it.
	order := append([]string{sel}, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == sel })...)
	sites := map[string]*site{}
	for _, g := range pipelines {
		if _, dup := sites[g.Name]; dup {
			return fmt.Errorf("viz: pipeline %q given twice", g.Name)
		}
		st, err := newSite(g, false, order...)
		if err != nil {
			return err
		}
		sites[g.Name] = st
	}
	s.mu.Lock()
	s.sites, s.order = sites, order
	s.version++
	s.mu.Unlock()
	return nil
}

// site returns the pipeline a request names (?pipeline=, else the
// selected one), or writes a 404.
func (s *Server) site(w http.ResponseWriter, name string) *site {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if name == "" {
		name = s.order[0]
	}
	st, ok := s.sites[name]
	if !ok {
		http.Error(w, fmt.Sprintf("no pipeline %q here (pipelines: %q)", name, s.order), http.StatusNotFound)
		return nil
	}
	return st
}

// Handler serves the viewer for g alone; see Server.Handler.
func Handler(g Graph) (http.Handler, error) {
	s, err := NewServer(Options{Pipelines: []Graph{g}})
	if err != nil {
		return nil, err
	}
	return s.Handler(), nil
}

// Handler serves the page at / (and the compare page at /compare.html),
// and the JSON API: /api/main (the selected pipeline in Kedro-Viz's
// shape, as RenderJSON writes it), /api/pipelines/{name} (any pipeline),
// /api/layout (expanded layouts, with and without parameters),
// /api/layout/view (one layout on demand: ?params=1 shows parameters,
// ?collapse=a,b collapses namespaces), /api/nodes/{id}, /api/datasets
// (each dataset's existence, size and modification time),
// /api/preview/{id} (the first rows, image, metrics or history of a
// dataset), /api/runs and /api/runs/{id}, and /api/version. Every
// pipeline-specific route takes ?pipeline=NAME.
func (s *Server) Handler() http.Handler {
	assets, err := fs.Sub(web, "web")
	if err != nil {
		panic(fmt.Sprintf("viz: embedded web assets: %v", err)) // the embed pattern guarantees "web"
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(assets))
	pipe := func(h func(st *site, w http.ResponseWriter, req *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			if st := s.site(w, req.URL.Query().Get("pipeline")); st != nil {
				h(st, w, req)
			}
		}
	}
	mux.HandleFunc("GET /api/main", pipe(func(st *site, w http.ResponseWriter, req *http.Request) { st.serveJSON(st.main)(w, req) }))
	mux.HandleFunc("GET /api/layout", pipe(func(st *site, w http.ResponseWriter, req *http.Request) { st.serveJSON(st.layout)(w, req) }))
	mux.HandleFunc("GET /api/layout/view", pipe(func(st *site, w http.ResponseWriter, req *http.Request) { st.serveView(w, req) }))
	mux.HandleFunc("GET /api/pipelines/{name}", func(w http.ResponseWriter, req *http.Request) {
		if st := s.site(w, req.PathValue("name")); st != nil {
			st.serveJSON(st.main)(w, req)
		}
	})
	mux.HandleFunc("GET /api/nodes/{id}", pipe(func(st *site, w http.ResponseWriter, req *http.Request) {
		b, ok := st.nodes[req.PathValue("id")]
		if !ok {
			http.Error(w, fmt.Sprintf("no node with id %q in pipeline %q", req.PathValue("id"), st.name), http.StatusNotFound)
			return
		}
		st.serveJSON(b)(w, req)
	}))
	mux.HandleFunc("GET /api/datasets", pipe(s.serveDatasets))
	mux.HandleFunc("GET /api/preview/{id}", pipe(s.servePreview))
	mux.HandleFunc("GET /api/preview/{id}/raw", pipe(s.servePreviewRaw))
	mux.HandleFunc("GET /api/runs", s.serveRuns)
	mux.HandleFunc("GET /api/runs/{id}", s.serveRun)
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, req *http.Request) {
		s.mu.RLock()
		// The start time in the version: a viewer restarted by
		// --autoreload (code changed) counts from 1 again.
		v := fmt.Sprintf("%d.%d", s.started.UnixNano(), s.version)
		s.mu.RUnlock()
		writeJSON(w, map[string]any{"version": v, "autoreload": s.opt.Autoreload, "runs": s.opt.Runs != nil, "previews": s.opt.Root != ""})
	})
	return mux
}

// writeJSON answers v as JSON, uncached (it describes files and runs that
// change).
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
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
	writeJSON(w, lay)
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
	s, err := NewServer(Options{Pipelines: []Graph{g}})
	if err != nil {
		ln.Close()
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves s on ln until ctx is cancelled, as ServeListener does.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	h := s.Handler()
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

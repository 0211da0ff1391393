// Package viz shows a pipeline as a left-to-right DAG: as Graphviz DOT, as
// Mermaid, as Kedro-Viz-shaped JSON, or as an interactive web page embedded
// in the binary (go:embed; no CDN, no JavaScript build step).
//
// The package knows nothing of the runner. A caller converts its pipeline
// into a Graph — task nodes with their inputs, outputs, parameter keys,
// tags, namespace and Go source location; catalog datasets with type,
// filepath and layer; resolved parameter values — and hands it to one of:
//
//	RenderDOT(w, g)       // digraph, rankdir=LR, a cluster per layer
//	RenderMermaid(w, g)   // flowchart LR, a subgraph per layer
//	RenderJSON(w, g)      // the body of Kedro-Viz's GET /api/main
//	Serve(ctx, addr, g)   // the web page on 127.0.0.1, until ctx ends
//	Build(dir, g)         // the same page and API as static files
//	                      // (replaces only an empty dir or an earlier build)
//	RenderSVG(w, g, opt)  // the drawing as a standalone SVG image
//	ComputeLayout(g, opt) // the coordinates the page draws
//
// Edges follow from the nodes' inputs and outputs; datasets a node names
// but the catalog does not describe are shown as in-memory data. The layout
// is layered (Sugiyama style): ranks by longest path, one column band per
// catalog layer in data-flow order, crossings reduced by barycentre sweeps;
// it is computed in Go, so the page carries no layout engine. Namespaces
// can be collapsed into one box each (LayoutOptions.Collapse).
//
// The page shows layer bands, tags (filter), parameters (toggle), a
// namespace tree (collapse), search, a details panel (inputs, outputs,
// parameter values, function and source file:line, the run command),
// Kedro-Viz-style slicing (click, then shift-click: the run command for
// what lies between) and pan/zoom. The server answers GET /api/main,
// /api/layout, /api/layout/view, /api/nodes/{id} and /api/pipelines/{name};
// Handler returns it as an http.Handler so a caller can mount more routes
// beside it (for example a live run-status feed, /api/run-status).
//
// The server answers only requests whose Host header names it (localhost,
// a loopback address, or the address it was bound to; HostGuard), so a web
// page elsewhere cannot read it through DNS rebinding; ExposureWarning
// tells a caller to warn when it is bound beyond loopback.
package viz

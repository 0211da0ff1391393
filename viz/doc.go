// Package viz shows a pipeline as a left-to-right DAG: as Graphviz DOT, as
// Mermaid, as Kedro-Viz-shaped JSON, or as an interactive web page embedded
// in the binary (go:embed; no CDN, no JavaScript build step).
//
// The package knows nothing of the runner. A caller converts its pipeline
// into a Graph — task nodes with their inputs, outputs, parameter keys,
// tags, namespace and Go source location; catalog datasets with type,
// filepath and layer; resolved parameter values — and hands it to one of:
//
//	RenderDOT(w, g)       // digraph, rankdir=LR, clusters per layer
//	RenderMermaid(w, g)   // flowchart LR, subgraphs per layer
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
// The text renderings follow the same layout: items are declared in its
// order, a layer is cut into one cluster per part that sits together
// (no rectangle stretched across the graph), namespaced items show their
// short name over the namespace, and in-memory data is a dashed outline
// (a dashed stadium in Mermaid). Mermaid output asks for the ELK layout
// (bundled with mermaid-cli 11; other renderers fall back to dagre).
// TestMermaidRendersInMmdc draws it with mmdc ($MMDC) and checks the SVG.
//
// The page shows layer bands (or a layer dot per dataset when bands
// would stretch edges), tags (filter), parameters (toggle), a namespace
// tree (collapse one, all, or expand all), search, focus mode, a minimap,
// SVG/PNG export, a details panel (inputs, outputs, parameter values,
// function, source file:line and code, a copyable run command; for a
// dataset its file status and a preview), Kedro-Viz-style slicing (click,
// then shift-click) and pan/zoom; labels are never drawn under 10 px at
// the first view. A Server (NewServer) serves several pipelines and
// answers GET /api/main, /api/pipelines/{name}, /api/layout,
// /api/layout/view, /api/nodes/{id}, /api/datasets, /api/preview/{id},
// /api/runs, /api/runs/{id} and /api/version; Update swaps the pipelines
// (autoreload), a RunStore feeds the runs view and compare.html.
//
// The server answers only requests whose Host header names it (localhost,
// a loopback address, or the address it was bound to; HostGuard), so a web
// page elsewhere cannot read it through DNS rebinding; ExposureWarning
// tells a caller to warn when it is bound beyond loopback. Previews read
// only dataset files of the served graphs, through os.Root at the project
// root: no path from a request is opened, and links out are refused.
package viz

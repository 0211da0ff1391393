package cli

import (
	"context"
	"fmt"
	iofs "io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
	"mmc/viz"
)

// cmdViz is `viz`: serve the DAG page, print it, or build a static site.
func (a *App) cmdViz(ctx context.Context, args []string) error {
	fs := a.flagSet("viz", "viz [--pipeline P] [--port 4141] [--autoreload] [--format dot|mermaid|json] [--build DIR]")
	var cf confFlags
	cf.register(fs)
	var pipeline, format, host, build string
	var port int
	var autoreload bool
	pipelineFlag(fs, &pipeline, flow.DefaultPipeline, "pipeline to show first (the page switches between all of them)")
	fs.StringVar(&format, "format", "", "print the graph as dot, mermaid or json instead of serving it")
	fs.StringVar(&host, "host", "127.0.0.1", "address to serve on")
	fs.IntVar(&port, "port", 4141, "port to serve on")
	fs.StringVar(&build, "build", "", "write the page as a static site into this directory (new, empty, or an earlier build; anything else is refused)")
	fs.BoolVar(&autoreload, "autoreload", false, "reload the page when the configuration or the Go code changes (code changes rebuild and restart the viewer)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	p, err := a.Registry.Pipeline(pipeline)
	if err != nil {
		return err
	}
	cfg, cat, err := cf.catalog(a.Stderr, a.Formats)
	if err != nil {
		return err
	}
	g := Graph(pipeline, p, cat, cfg.Parameters)
	a.attachCode(&g)
	switch format {
	case "dot":
		return viz.RenderDOT(a.Stdout, g)
	case "mermaid":
		return viz.RenderMermaid(a.Stdout, g)
	case "json":
		return viz.RenderJSON(a.Stdout, g)
	case "":
	default:
		return usagef("--format %q: want dot, mermaid or json", format)
	}
	if build != "" {
		if err := viz.Build(build, g); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "wrote %s\n", build)
		return nil
	}
	graphs := a.vizGraphs(g, cat, cfg.Parameters)
	root := cf.root()
	srv, err := viz.NewServer(viz.Options{Pipelines: graphs, Selected: pipeline, Root: root, Runs: vizRuns{root: root}, Autoreload: autoreload})
	if err != nil {
		return err
	}
	ln, err := viz.Listen(net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	if warn := viz.ExposureWarning(ln.Addr()); warn != "" {
		fmt.Fprintln(a.Stderr, warn)
	}
	fmt.Fprintf(a.Stdout, "Serving pipeline %s (and %d more) at http://%s/ (Ctrl-C to stop)\n", pipeline, len(graphs)-1, ln.Addr())
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if autoreload {
		reload := func() error {
			p, err := a.Registry.Pipeline(pipeline)
			if err != nil {
				return err
			}
			cfg, cat, err := cf.catalog(a.Stderr, a.Formats)
			if err != nil {
				return err
			}
			g := Graph(pipeline, p, cat, cfg.Parameters)
			a.attachCode(&g)
			return srv.Update(a.vizGraphs(g, cat, cfg.Parameters))
		}
		go a.watchProject(ctx, root, cf.confSource, reload, ln)
	}
	return srv.Serve(ctx, ln)
}

// vizGraphs is the shown pipeline first, then every other registered
// pipeline that builds (those not built yet are left out of the selector).
func (a *App) vizGraphs(first viz.Graph, cat *catalog.Catalog, params *config.Tree) []viz.Graph {
	graphs := []viz.Graph{first}
	for _, name := range a.Registry.Names() {
		if name == first.Name {
			continue
		}
		p, err := a.Registry.Pipeline(name)
		if err != nil {
			continue
		}
		g := Graph(name, p, cat, params)
		a.attachCode(&g)
		if g.Validate() == nil {
			graphs = append(graphs, g)
		}
	}
	return graphs
}

// attachCode gives each node the text of its function from the embedded
// sources: from the line Source names to the function's closing brace.
func (a *App) attachCode(g *viz.Graph) {
	if a.Sources == nil {
		return
	}
	files := map[string][]string{}
	for i, n := range g.Nodes {
		file, lineStr, ok := strings.Cut(n.Source, ":")
		line, err := strconv.Atoi(lineStr)
		if !ok || err != nil || line < 1 {
			continue
		}
		lines, seen := files[file]
		if !seen {
			b, err := iofs.ReadFile(a.Sources, filepath.ToSlash(file))
			if err == nil {
				lines = strings.Split(string(b), "\n")
			}
			files[file] = lines
		}
		if line > len(lines) {
			continue
		}
		// Doc comment above, then the body down to the closing brace at
		// the start of a line (gofmt puts it there).
		from := line - 1
		for from > 0 && strings.HasPrefix(lines[from-1], "//") {
			from--
		}
		to := line - 1
		for to < len(lines) && to-line < 400 && lines[to] != "}" {
			to++
		}
		g.Nodes[i].Code = strings.Join(lines[from:min(to+1, len(lines))], "\n")
	}
}

// Graph converts a pipeline into the viewer's plain graph: nodes with
// their tags, functions and source, every dataset as the catalog
// resolves it, and the resolved value of every parameter the nodes read.
func Graph(name string, p *flow.Pipeline, cat *catalog.Catalog, params *config.Tree) viz.Graph {
	g := viz.Graph{Name: name}
	wd, _ := os.Getwd()
	for _, n := range p.Nodes() {
		vn := viz.Node{Name: n.Name(), Namespace: n.Namespace(), Tags: n.Tags(), Func: n.Func(), Source: relSource(wd, n.Source())}
		for _, in := range n.InputNames() {
			if key, ok := catalog.IsParam(in); ok {
				vn.Params = append(vn.Params, key)
				continue
			}
			vn.Inputs = append(vn.Inputs, in)
		}
		vn.Outputs = n.OutputNames()
		g.Nodes = append(g.Nodes, vn)
	}
	for _, d := range p.Datasets() {
		if key, ok := catalog.IsParam(d); ok {
			v, _ := params.Get(key)
			g.Params = append(g.Params, viz.Param{Key: key, Value: v})
			continue
		}
		ds := viz.Dataset{Name: d, Type: "memory", InMemory: true}
		if res, err := cat.Resolve(d); err == nil && res.Spec != nil {
			ds.Type, ds.Filepath, ds.Layer = res.Spec.Type, res.Spec.Filepath, res.Spec.Layer()
			ds.InMemory = res.Kind == catalog.Memory
			if ds.InMemory {
				ds.Filepath = ""
			}
		} else if err != nil {
			ds.Type = "unresolved"
		}
		g.Datasets = append(g.Datasets, ds)
	}
	return g
}

func relSource(wd, src string) string {
	if wd == "" || src == "" {
		return src
	}
	if rel, err := filepath.Rel(wd, src); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return src
}

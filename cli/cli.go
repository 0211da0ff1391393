// Package cli implements the mmc command line: run, registry, catalog,
// params and viz. main.go only hands it the arguments and the pipeline
// registry; everything here works on a flow.Registry, so tests drive the
// commands with small registries of their own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
)

// App is one invocation of the command line.
type App struct {
	Registry *flow.Registry
	Stdout   io.Writer
	Stderr   io.Writer
	// Program is how the user started the binary, for printed commands
	// ("go run ." by default).
	Program string
	// Formats are the catalog's dataset types (catalog/formats.All in
	// mmc); nil means catalog.Builtin().
	Formats []catalog.Format
	// Sources holds the node functions' Go files, embedded at build time
	// (paths relative to the project root); the viz shows a node's code
	// from it. Nil: no code shown.
	Sources fs.FS
}

type command struct {
	name    string
	summary string
	run     func(a *App, ctx context.Context, args []string) error
}

// commands lists the subcommands (a function, not a package variable:
// the commands refer back to the list through usage).
func commands() []command {
	return []command{
		{"run", "run a pipeline (default __default__)", (*App).cmdRun},
		{"registry", "list registered pipelines, or describe one", (*App).cmdRegistry},
		{"catalog", "list the datasets of a pipeline and how each resolves", (*App).cmdCatalog},
		{"params", "show resolved parameters and the file that set each", (*App).cmdParams},
		{"status", "say per node whether `run` would run it, and why (cache lock)", (*App).cmdStatus},
		{"metrics", "list recorded runs, or compare two: parameters, metrics, history", (*App).cmdMetrics},
		{"viz", "show a pipeline's DAG in the browser, or print it as dot/mermaid/json", (*App).cmdViz},
		{"export", "write a pipeline as an Argo Workflow or Airflow DAG (export argo|airflow)", (*App).cmdExport},
	}
}

// usageError is a command-line mistake; Main prints it with a hint to
// --help and exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Main runs the command in args (without the program name) and returns
// the process exit status.
func (a *App) Main(ctx context.Context, args []string) int {
	if a.Program == "" {
		a.Program = "go run ."
	}
	if len(args) == 0 {
		args = []string{"run"}
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		a.usage(a.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(a, ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(a.Stderr, "error: %v\n", err)
			return 130
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(a.Stderr, "error: %v\nRun '%s %s --help' for usage.\n", err, a.Program, name)
			return 2
		}
		fmt.Fprintf(a.Stderr, "error: %v\n", err)
		return 1
	}
	cmds := commands()
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	fmt.Fprintf(a.Stderr, "error: unknown command %q%s\n\n", name, config.DidYouMean(name, names))
	a.usage(a.Stderr)
	return 2
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "mmc trains and serves multimodal meme classifiers as Kedro-style pipelines.\n\nUsage: %s <command> [flags]\n\nCommands:\n", a.Program)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nWith no command, runs the __default__ pipeline. '%s <command> --help' shows a command's flags.\n", a.Program)
}

// flagSet makes a FlagSet whose usage text goes to stdout on --help.
func (a *App) flagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() {
		fs.SetOutput(a.Stdout)
		fmt.Fprintf(a.Stdout, "Usage: %s %s\n\nFlags:\n", a.Program, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}

// confFlags are the options every command that reads config shares.
type confFlags struct {
	env        string
	confSource string
	params     string
	logFormat  string
	logLevel   string
	log        zerolog.Logger // set by logger(); warnings while loading config
}

func (c *confFlags) register(fs *flag.FlagSet) {
	defEnv := os.Getenv("MMC_ENV")
	if defEnv == "" {
		defEnv = "local"
	}
	fs.StringVar(&c.env, "env", defEnv, "configuration environment layered over conf/base (or $MMC_ENV)")
	fs.StringVar(&c.env, "e", defEnv, "shorthand for --env")
	fs.StringVar(&c.confSource, "conf-source", "conf", "configuration directory")
	fs.StringVar(&c.params, "params", "", "runtime parameters `a.b=1,c=x` (typed values, dotted keys)")
	fs.StringVar(&c.logFormat, "log-format", "", "log format: console or json (console on a terminal by default)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// root is the project root: the folder above the configuration, where
// .mmc/ (the cache lock and the runs) lives.
func (c *confFlags) root() string {
	abs, err := filepath.Abs(c.confSource)
	if err != nil {
		return "."
	}
	return filepath.Dir(abs)
}

// logger builds the zerolog logger: coloured console output on a
// terminal, plain console text elsewhere, JSON lines on request.
func (c *confFlags) logger(w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.logLevel)
	if err != nil {
		return zerolog.Nop(), usagef("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	switch c.logFormat {
	case "json":
		c.log = zerolog.New(w).Level(level).With().Timestamp().Logger()
		return c.log, nil
	case "", "console":
		isTTY := false
		if f, ok := w.(*os.File); ok {
			isTTY = term.IsTerminal(int(f.Fd()))
		}
		cw := zerolog.ConsoleWriter{Out: w, NoColor: !isTTY, TimeFormat: "15:04:05"}
		c.log = zerolog.New(cw).Level(level).With().Timestamp().Logger()
		return c.log, nil
	}
	return zerolog.Nop(), usagef("--log-format %q: want console or json", c.logFormat)
}

// pipelineFlag registers --pipeline and its shorthand -p.
func pipelineFlag(fs *flag.FlagSet, p *string, def, usage string) {
	fs.StringVar(p, "pipeline", def, usage)
	fs.StringVar(p, "p", def, "shorthand for --pipeline")
}

// loadLogged sets up logging first, so warnings while loading show in
// the chosen format, then reads the configuration.
func (c *confFlags) loadLogged(stderr io.Writer) (*config.Config, error) {
	if _, err := c.logger(stderr); err != nil {
		return nil, err
	}
	cfg, _, err := c.load()
	return cfg, err
}

// catalog reads the configuration and builds its catalog, for the
// commands that only inspect datasets (catalog list, viz).
func (c *confFlags) catalog(stderr io.Writer, formats []catalog.Format) (*config.Config, *catalog.Catalog, error) {
	cfg, err := c.loadLogged(stderr)
	if err != nil {
		return nil, nil, err
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats, Credentials: cfg.Credentials})
	if err != nil {
		return nil, nil, err
	}
	return cfg, cat, nil
}

// load reads the configuration.
func (c *confFlags) load() (*config.Config, map[string]any, error) {
	rp, err := config.ParseParams(c.params)
	if err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	cfg, err := config.Load(config.Options{ConfSource: c.confSource, Env: c.env, RuntimeParams: rp})
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.UnknownRuntimeParams) > 0 {
		unknown := map[string]bool{}
		for _, k := range cfg.UnknownRuntimeParams {
			unknown[k] = true
		}
		var known []string
		for _, l := range cfg.Parameters.Leaves("") {
			if !unknown[l] {
				known = append(known, l)
			}
		}
		for _, k := range cfg.UnknownRuntimeParams {
			c.log.Warn().Str("key", k).Msgf("--params %s sets a parameter that conf does not define%s", k, config.DidYouMean(k, known))
		}
	}
	return cfg, rp, nil
}

// splitList splits a comma-separated flag value, dropping empty items;
// commas inside [...] do not split (Kedro's node-name rule).
func splitList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '[':
				depth++
				continue
			case ']':
				depth--
				continue
			case ',':
				if depth != 0 {
					continue
				}
			default:
				continue
			}
		}
		if item := strings.TrimSpace(s[start:i]); item != "" {
			out = append(out, item)
		}
		start = i + 1
	}
	return out
}

// pipelineNames resolves --pipeline/--pipelines.
func pipelineNames(single, multi string) ([]string, error) {
	if single != "" && multi != "" {
		return nil, usagef("give --pipeline or --pipelines, not both")
	}
	names := splitList(multi)
	if single != "" {
		names = []string{single}
	}
	if len(names) == 0 {
		names = []string{flow.DefaultPipeline}
	}
	return names, nil
}

// paramKeys lists the parameter keys a pipeline reads, sorted.
func paramKeys(p *flow.Pipeline) []string {
	seen := map[string]bool{}
	for _, d := range p.Datasets() {
		if key, ok := catalog.IsParam(d); ok {
			seen[key] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/goccy/go-yaml"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
)

// cmdRegistry is `registry list` and `registry describe NAME`.
func (a *App) cmdRegistry(_ context.Context, args []string) error {
	fs := a.flagSet("registry", "registry list | registry describe [NAME]")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch sub := fs.Arg(0); sub {
	case "list":
		if fs.NArg() > 1 {
			return usagef("registry list takes no arguments")
		}
		// First column is the bare name, so `cut -d' ' -f1` and scripts
		// reading one name per line keep working.
		tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		for _, name := range a.Registry.Names() {
			e, _ := a.Registry.Entry(name)
			status := "working"
			if !e.Built() {
				status = "not yet built"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, status, e.Description)
		}
		return tw.Flush()
	case "describe":
		name := flow.DefaultPipeline
		if fs.NArg() > 1 {
			name = fs.Arg(1)
		}
		e, err := a.Registry.Entry(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "pipeline: %s\ndescription: %s\n", name, e.Description)
		p, err := a.Registry.Pipeline(name)
		var nb *flow.NotBuiltError
		if errors.As(err, &nb) {
			fmt.Fprintf(a.Stdout, "status: not yet built\nmissing: %s\n", nb.Missing)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "status: working\n%s", p.Describe())
		return nil
	case "":
		return usagef("registry needs a subcommand: list or describe")
	default:
		return usagef("unknown registry subcommand %q%s", sub, config.DidYouMean(sub, []string{"list", "describe"}))
	}
}

// cmdCatalog is `catalog list [--pipeline P]`.
func (a *App) cmdCatalog(_ context.Context, args []string) error {
	fs := a.flagSet("catalog", "catalog list [--pipeline P]")
	var cf confFlags
	cf.register(fs)
	var pipeline string
	pipelineFlag(fs, &pipeline, flow.DefaultPipeline, "pipeline whose datasets to list")
	// Accept flags after the subcommand too: `catalog list --pipeline x`.
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.Arg(0) != "list" {
		return usagef("catalog needs the subcommand list")
	}
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return err
	}
	p, err := a.Registry.Pipeline(pipeline)
	if err != nil {
		return err
	}
	_, cat, err := cf.catalog(a.Stderr, a.Formats)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tRESOLVED\tTYPE/PATH\tGO TYPE")
	for _, d := range p.Datasets() {
		if _, isParam := catalog.IsParam(d); isParam {
			continue
		}
		res, err := cat.Resolve(d)
		kind := ""
		if err != nil {
			kind = "error"
		} else {
			kind = res.Kind.String()
			if res.Kind == catalog.Factory {
				kind += " " + res.Pattern
			}
		}
		goType := ""
		if t := p.DatasetType(d); t != nil {
			goType = t.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d, kind, cat.Describe(d), goType)
	}
	return tw.Flush()
}

// cmdParams is `params show [--pipeline P]`.
func (a *App) cmdParams(_ context.Context, args []string) error {
	fs := a.flagSet("params", "params show [--pipeline P]")
	var cf confFlags
	cf.register(fs)
	var pipeline string
	pipelineFlag(fs, &pipeline, "", "show only the parameters this pipeline reads")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.Arg(0) != "show" {
		return usagef("params needs the subcommand show")
	}
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return err
	}
	cfg, err := cf.loadLogged(a.Stderr)
	if err != nil {
		return err
	}
	roots := []string{""}
	if pipeline != "" {
		p, err := a.Registry.Pipeline(pipeline)
		if err != nil {
			return err
		}
		roots = paramKeys(p)
	}
	seen := map[string]bool{}
	var leaves []string
	for _, r := range roots {
		for _, l := range cfg.Parameters.Leaves(r) {
			if !seen[l] && l != "" {
				seen[l] = true
				leaves = append(leaves, l)
			}
		}
	}
	sort.Strings(leaves)
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	for _, l := range leaves {
		v, _ := cfg.Parameters.Get(l)
		b, err := yaml.MarshalWithOptions(v, yaml.Flow(true))
		if err != nil {
			return fmt.Errorf("format parameter %s: %w", l, err)
		}
		fmt.Fprintf(tw, "%s\t%s  # %s\n", l, strings.TrimSpace(string(b)), cfg.Parameters.Source(l))
	}
	return tw.Flush()
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"mmc/catalog"
	"mmc/flow"
)

// cmdStatus is `status`: for every node of a pipeline, whether `run`
// would run it and why (the cache lock against the code, parameters and
// data as they are now). It runs nothing and writes nothing.
func (a *App) cmdStatus(_ context.Context, args []string) error {
	fs := a.flagSet("status", "status [--pipeline P] [flags]")
	var cf confFlags
	cf.register(fs)
	var pipeline, pipelines string
	var asJSON bool
	pipelineFlag(fs, &pipeline, "", "pipeline to check (default __default__)")
	fs.StringVar(&pipelines, "pipelines", "", "comma-separated pipelines to check together")
	fs.BoolVar(&asJSON, "json", false, "print the decisions as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := cf.logger(a.Stderr); err != nil {
		return err
	}
	names, err := pipelineNames(pipeline, pipelines)
	if err != nil {
		return err
	}
	p, err := a.Registry.Pipeline(names...)
	if err != nil {
		return err
	}
	cfg, _, err := cf.load()
	if err != nil {
		return err
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: a.Formats})
	if err != nil {
		return err
	}
	if err := flow.Check(p, cat); err != nil {
		return fmt.Errorf("pipeline %s is not valid:\n%w", strings.Join(names, "+"), err)
	}
	cache, err := flow.OpenCache(cf.root(), "")
	if err != nil {
		return err
	}
	plan, err := flow.Plan(p, cat, flow.PlanOptions{Cache: cache})
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	a.printPlan(plan, "would run")
	return nil
}

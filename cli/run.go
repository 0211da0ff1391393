package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
	"mmc/runs"
)

// cmdRun is `run`: build the pipeline, apply the filters, validate
// everything against the catalog, then run.
func (a *App) cmdRun(ctx context.Context, args []string) error {
	return a.runWith(ctx, args, nil)
}

// runWith is `run`; resume, when set, is the failed run that --resume
// continues (its arguments come before args).
func (a *App) runWith(ctx context.Context, args []string, resume *runs.Run) error {
	fs := a.flagSet("run", "run [flags]")
	var cf confFlags
	cf.register(fs)
	var (
		pipeline, pipelines              string
		nodes, fromNodes, toNodes        string
		fromInputs, toOutputs, tags, nss string
		runnerName, loadVersions         string
		maxWorkers                       int
		onlyMissing                      bool
		noCache, force, keepGoing        bool
		dryRun, resumeFlag               bool
		forceDown                        string
		shard                            string
	)
	pipelineFlag(fs, &pipeline, "", "pipeline to run (default __default__)")
	fs.StringVar(&pipelines, "pipelines", "", "comma-separated pipelines to run together")
	fs.StringVar(&nodes, "nodes", "", "run only these nodes (comma-separated)")
	fs.StringVar(&nodes, "n", "", "shorthand for --nodes")
	fs.StringVar(&fromNodes, "from-nodes", "", "run these nodes and everything downstream")
	fs.StringVar(&toNodes, "to-nodes", "", "run these nodes and everything upstream")
	fs.StringVar(&fromInputs, "from-inputs", "", "run nodes depending on these datasets")
	fs.StringVar(&toOutputs, "to-outputs", "", "run nodes needed to produce these datasets")
	fs.StringVar(&tags, "tags", "", "run nodes with any of these tags")
	fs.StringVar(&tags, "t", "", "shorthand for --tags")
	fs.StringVar(&nss, "namespaces", "", "run nodes in these namespaces")
	fs.StringVar(&runnerName, "runner", "sequential", "sequential or parallel (a goroutine pool)")
	fs.StringVar(&runnerName, "r", "sequential", "shorthand for --runner")
	fs.IntVar(&maxWorkers, "max-workers", runtime.NumCPU(), "nodes run at once by the parallel runner")
	fs.StringVar(&loadVersions, "load-versions", "", "versions to load, `ds:YYYY-MM-DDThh.mm.ss.sssZ,...`")
	fs.BoolVar(&onlyMissing, "only-missing-outputs", false, "skip nodes whose persisted outputs all exist")
	fs.BoolVar(&noCache, "no-cache", false, "run every node and leave the cache lock (.mmc/lock.json) alone")
	fs.BoolVar(&force, "force", false, "run every node, then record them in the cache lock")
	fs.StringVar(&forceDown, "force-downstream", "", "run these nodes (comma-separated) and everything downstream, whatever the cache says")
	fs.BoolVar(&keepGoing, "keep-going", false, "after a node fails, finish the branches that do not depend on it")
	fs.BoolVar(&dryRun, "dry-run", false, "say per node whether it would run and why, and run nothing")
	fs.BoolVar(&resumeFlag, "resume", false, "continue the last failed run from where it failed (same pipeline, filters and runner)")
	fs.StringVar(&shard, "shard", "", "process the `i/n`-th partition in the shardable nodes (sets params shard.index and shard.count)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if resumeFlag {
		if resume != nil {
			return usagef("--resume given twice")
		}
		if dryRun {
			return usagef("--resume and --dry-run: run `status` to see what would run")
		}
		last, err := lastFailedRun(cf.root())
		if err != nil {
			return err
		}
		return a.runWith(ctx, append(withoutFlag(last.Args, "resume"), withoutFlag(args, "resume")...), last)
	}
	log, err := cf.logger(a.Stderr)
	if err != nil {
		return err
	}
	names, err := pipelineNames(pipeline, pipelines)
	if err != nil {
		return err
	}
	workers := 1
	switch strings.ToLower(runnerName) {
	case "sequential", "sequentialrunner":
	case "parallel", "parallelrunner", "thread", "threadrunner":
		if maxWorkers < 1 {
			return usagef("--max-workers must be at least 1")
		}
		workers = maxWorkers
	default:
		return usagef("--runner %q: want sequential or parallel", runnerName)
	}
	versions, err := parseLoadVersions(loadVersions)
	if err != nil {
		return err
	}
	filter := flow.Filter{
		Tags: splitList(tags), NodeNames: splitList(nodes), FromNodes: splitList(fromNodes), ToNodes: splitList(toNodes),
		FromInputs: splitList(fromInputs), ToOutputs: splitList(toOutputs), Namespaces: splitList(nss),
	}

	// A pipeline that is not built fails here, before config is read.
	p, err := a.Registry.Pipeline(names...)
	if err != nil {
		return err
	}
	p, err = p.Filter(filter)
	if err != nil {
		return err
	}
	if shard != "" {
		if cf.params, err = shardParams(shard, cf.params, p); err != nil {
			return err
		}
	}
	cfg, rp, err := cf.load()
	if err != nil {
		return err
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{LoadVersions: versions, Formats: a.Formats, Credentials: cfg.Credentials})
	if err != nil {
		return err
	}
	for ds := range versions {
		if !cat.IsPersistent(ds) {
			return usagef("--load-versions: dataset %q has no catalog entry", ds)
		}
	}
	if err := flow.Check(p, cat); err != nil {
		return fmt.Errorf("pipeline %s is not valid:\n%w", strings.Join(names, "+"), err)
	}

	root := cf.root()
	var cache *flow.Cache
	if !noCache {
		if cache, err = flow.OpenCache(root, ""); err != nil {
			return err
		}
	}
	opts := flow.RunOptions{
		MaxWorkers:         workers,
		OnlyMissingOutputs: onlyMissing,
		Log:                log,
		Producers:          producersOf(a.Registry, cat),
		Cache:              cache,
		Force:              force,
		ForceDownstream:    splitList(forceDown),
		KeepGoing:          keepGoing,
	}
	if resume != nil {
		opts.DoneRun = resume.ID
		opts.Done = doneNodes(root, resume)
	}
	if dryRun {
		plan, err := flow.Plan(p, cat, opts.PlanOptions())
		if err != nil {
			return err
		}
		a.printPlan(plan, "would run")
		return nil
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	runnerLabel := "sequential"
	if workers > 1 {
		runnerLabel = "parallel"
	}
	rec, err := runs.Start(root, runs.Run{ID: cat.SaveVersion(), Pipelines: names, Env: cfg.Env, Runner: runnerLabel,
		Args: withoutFlag(args, "resume"), Params: resolvedParams(p, cfg.Parameters), Nodes: p.Len()},
		func(ds string) string { return flow.DatasetPath(cat, ds) })
	runID := cat.SaveVersion()
	opts.Hooks = []flow.Hooks{datasetLogHooks(log)}
	if err != nil {
		// A project folder we cannot write to still runs, unrecorded.
		log.Warn().Err(err).Msg("this run is not recorded (no events for the viz, no metrics history)")
		rec = nil
	} else {
		runID = rec.ID()
		opts.Hooks = append(opts.Hooks, rec.Hooks())
	}
	log.Info().Strs("pipelines", names).Str("env", cfg.Env).Str("runner", runnerLabel).Int("nodes", p.Len()).
		Str("version", cat.SaveVersion()).Str("run", runID).Msg("starting run")
	opts.Info = flow.RunInfo{RunID: runID, Pipelines: names, Env: cfg.Env, Filter: filter,
		Runner: runnerLabel, MaxWorkers: workers, OnlyMissingOutputs: onlyMissing,
		LoadVersions: versions, RuntimeParams: rp}
	res, err := flow.Run(ctx, p, cat, opts)
	if rec != nil {
		if ferr := rec.Finish(res, err); ferr != nil {
			log.Warn().Err(ferr).Str("run", runID).Msg("could not write the run record")
		}
	}
	var re *flow.RunError
	if errors.As(err, &re) {
		log.Error().Err(re.Err).Str("node", re.Node).Msg("run stopped")
		fmt.Fprintln(a.Stderr, re.Message)
		if arg := re.ResumeArg(); arg != "" {
			resume := a.Program + " run --resume"
			if cf.confSource != "conf" {
				resume += " --conf-source " + shellQuote(cf.confSource)
			}
			if rec == nil {
				resume = a.resumeCommand(args, arg)
			}
			fmt.Fprintf(a.Stderr, "Resume with:\n  %s\n(or: %s)\n", resume, a.resumeCommand(args, arg))
		}
	}
	return err
}

// lastFailedRun is the newest recorded run, which --resume continues: it
// failed, was cancelled, or was killed (still marked running).
func lastFailedRun(root string) (*runs.Run, error) {
	all, err := runs.List(root)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("--resume: no run recorded under %s", runs.Dir(root))
	}
	r := all[len(all)-1]
	if r.Status == runs.OK {
		return nil, fmt.Errorf("--resume: the last run (%s, pipelines %s) finished ok; there is nothing to resume", r.ID, strings.Join(r.Pipelines, "+"))
	}
	return r, nil
}

// doneNodes are the nodes a failed run finished or found up to date,
// read from its events (so a killed run counts too).
func doneNodes(root string, r *runs.Run) []string {
	out := []string{}
	evs, err := runs.ReadEvents(root, r.ID)
	if err != nil {
		return append(out, r.Ran...)
	}
	for _, e := range evs {
		switch {
		case e.Kind == runs.NodeEnd:
			out = append(out, e.Node)
		case e.Kind == runs.NodeSkip && !strings.HasPrefix(e.Reason, "upstream node "):
			out = append(out, e.Node)
		}
	}
	return out
}

// withoutFlag drops a boolean flag (-name, --name, --name=…) from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		bare := strings.TrimLeft(a, "-")
		if a != bare && (bare == name || strings.HasPrefix(bare, name+"=")) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// resolvedParams are the parameter subtrees a pipeline reads, by key.
func resolvedParams(p *flow.Pipeline, params *config.Tree) map[string]any {
	out := map[string]any{}
	for _, d := range p.Datasets() {
		key, ok := catalog.IsParam(d)
		if !ok {
			continue
		}
		if key == "" {
			return map[string]any{"": params.Values}
		}
		if v, ok := params.Get(key); ok {
			out[key] = v
		}
	}
	return out
}

// printPlan prints one line per node: whether it runs, its name, why.
func (a *App) printPlan(plan []flow.Decision, runWord string) {
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	n := 0
	for _, d := range plan {
		word := "skip"
		if d.Run {
			word = runWord
			n++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", word, d.Node, d.Reason)
	}
	tw.Flush()
	fmt.Fprintf(a.Stdout, "%d of %d nodes %s\n", n, len(plan), runWord)
}

// shardParams checks --shard i/n and adds it to --params as
// shard.index and shard.count, which the shardable nodes read.
func shardParams(shard, params string, p *flow.Pipeline) (string, error) {
	i, n, ok := strings.Cut(shard, "/")
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return "", usagef("--shard %q: want i/n with 0 <= i < n, e.g. 0/4", shard)
	}
	reads := false
	for _, d := range p.Datasets() {
		if key, ok := catalog.IsParam(d); ok && (key == "shard" || strings.HasPrefix(key, "shard.")) {
			reads = true
		}
	}
	if !reads {
		return "", usagef("--shard: no node of this run is shardable (none reads params:shard)")
	}
	set := fmt.Sprintf("shard.index=%d,shard.count=%d", idx, cnt)
	if params != "" {
		return params + "," + set, nil
	}
	return set, nil
}

// producersOf names the pipelines that write a missing dataset, matching
// by dataset name or by the file the name resolves to in this catalog.
func producersOf(reg *flow.Registry, cat *catalog.Catalog) func(string) []string {
	pathOf := func(ds string) string {
		res, err := cat.Resolve(ds)
		if err != nil || res.Spec == nil {
			return ""
		}
		return filepath.Clean(res.Spec.Filepath)
	}
	return func(dataset string) []string {
		target := pathOf(dataset)
		return reg.ProducersMatching(func(out string) bool {
			return out == dataset || (target != "" && pathOf(out) == target)
		})
	}
}

// resumeCommand is the previous command with --from-nodes replaced.
func (a *App) resumeCommand(args []string, fromNodes string) string {
	parts := []string{a.Program, "run"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--from-nodes" || arg == "-from-nodes" {
			i++
			continue
		}
		if strings.HasPrefix(arg, "--from-nodes=") || strings.HasPrefix(arg, "-from-nodes=") {
			continue
		}
		parts = append(parts, shellQuote(arg))
	}
	return strings.Join(append(parts, fromNodes), " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'$\\`*?[]{}()<>|&;!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func parseLoadVersions(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range splitList(s) {
		ds, ver, ok := strings.Cut(item, ":")
		if !ok || ds == "" || ver == "" {
			return nil, usagef("--load-versions item %q: want dataset:version", item)
		}
		out[strings.TrimSpace(ds)] = strings.TrimSpace(ver)
	}
	return out, nil
}

// datasetLogHooks logs every dataset load and save at debug level
// (--log-level debug), with where the data lives and how long it took.
func datasetLogHooks(log zerolog.Logger) flow.Hooks {
	if log.GetLevel() > zerolog.DebugLevel {
		return flow.Hooks{}
	}
	return flow.Hooks{
		AfterDatasetLoaded: func(_ context.Context, ds string, _ any, n *flow.Node, took time.Duration) {
			log.Debug().Str("dataset", ds).Str("node", n.Name()).Str("took", took.Round(time.Millisecond).String()).Msg("loaded")
		},
		AfterDatasetSaved: func(_ context.Context, ds string, _ any, n *flow.Node, took time.Duration) {
			log.Debug().Str("dataset", ds).Str("node", n.Name()).Str("took", took.Round(time.Millisecond).String()).Msg("saved")
		},
	}
}

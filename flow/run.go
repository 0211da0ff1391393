package flow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"mmc/catalog"
	"mmc/config"
)

// RunOptions configure Run.
type RunOptions struct {
	// MaxWorkers is the number of nodes run at once; 0 or 1 is the
	// sequential runner (nodes one by one in topological order).
	MaxWorkers int
	// Hooks are called in order at every hook point.
	Hooks []Hooks
	// OnlyMissingOutputs skips nodes whose persisted outputs all exist
	// (Kedro's --only-missing-outputs).
	OnlyMissingOutputs bool
	// Info is passed to pipeline hooks.
	Info RunInfo
	// Log receives progress lines; the zero logger discards them.
	Log zerolog.Logger
	// Producers names the pipelines that write a dataset, to say where a
	// missing input comes from (Registry.Producers); optional.
	Producers func(dataset string) []string

	// Cache, when set, skips nodes whose lock record still matches and
	// records every node that runs (see Plan and Cache).
	Cache *Cache
	// Force runs every node; ForceDownstream runs these nodes and all
	// downstream of them, whatever the cache says.
	Force           bool
	ForceDownstream []string
	// KeepGoing lets independent branches finish after a node fails; the
	// failed node's descendants do not run.
	KeepGoing bool
	// Done are the nodes a failed run finished (--resume, from run
	// DoneRun): they are skipped unless their in-memory output is needed.
	Done    []string
	DoneRun string
}

// Result is what a run did.
type Result struct {
	Ran     []string // node names, in completion order
	Skipped []string // skipped by the cache, OnlyMissingOutputs or Done
	// Failed are the nodes that failed (several with KeepGoing).
	Failed []string
	// Plan says for every node whether it was to run and why (nil when
	// every node ran because nothing asked to skip any).
	Plan     []Decision
	Duration time.Duration
}

// RunError is a run stopped by a node failure or a cancellation. What
// completed stays saved; Resume is the --from-nodes argument that picks
// up from the nearest nodes with persisted inputs ("" when nothing ran).
type RunError struct {
	Node    string // the failed node ("" when the run was cancelled)
	Err     error
	Failed  []string // every failed node (more than one with KeepGoing)
	Done    int
	NotRun  []string
	Resume  []string
	Message string // Kedro's resume suggestion, ready to print
}

// Error names the failed node, or says the run was cancelled.
func (e *RunError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("run stopped: %v", e.Err)
	}
	return fmt.Sprintf("node %q failed: %v", e.Node, e.Err)
}

// Unwrap returns the node's error or the cancellation cause.
func (e *RunError) Unwrap() error { return e.Err }

// ResumeArg is the --from-nodes flag that resumes the run, or "".
func (e *RunError) ResumeArg() string {
	if len(e.Resume) == 0 {
		return ""
	}
	return fmt.Sprintf("--from-nodes %q", strings.Join(e.Resume, ","))
}

// Check validates a pipeline against a catalog before anything runs:
// structural errors, free inputs that the catalog does not define, and,
// for every dataset, that its format can hold the Go type the nodes use
// (parameters decode strictly into their structs). All problems are
// reported together.
func Check(p *Pipeline, cat *catalog.Catalog) error {
	if err := p.Err(); err != nil {
		return err
	}
	var errs []error
	checked := map[string]bool{}
	for _, n := range p.nodes {
		for _, d := range append(append([]port{}, n.inputs...), n.outputs...) {
			key := d.name + "\x00" + d.typ.String()
			if checked[key] {
				continue
			}
			checked[key] = true
			if err := cat.Check(d.name, d.typ); err != nil {
				errs = append(errs, fmt.Errorf("node %q: %w", n.Name(), err))
			}
		}
	}
	for _, in := range p.Inputs() {
		if _, isParam := catalog.IsParam(in); isParam {
			continue
		}
		if !cat.IsPersistent(in) {
			cons := p.consumers[in]
			errs = append(errs, fmt.Errorf("dataset %q, read by node %q, is not produced in this pipeline and has no catalog entry%s",
				in, cons[0].Name(), suggestCatalog(in, cat)))
		}
	}
	return errors.Join(errs...)
}

func suggestCatalog(name string, cat *catalog.Catalog) string {
	if s := config.Nearest(name, cat.Names()); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Run executes the pipeline. Nodes run when all their inputs are ready,
// on up to MaxWorkers goroutines that share in-memory datasets directly.
// A node error or panic, or a cancelled ctx, stops scheduling; running
// nodes finish (their outputs are saved atomically, and a cancelled node
// saves nothing), and the returned *RunError carries the resume hint.
func Run(ctx context.Context, p *Pipeline, cat *catalog.Catalog, opts RunOptions) (*Result, error) {
	start := time.Now()
	if err := p.Err(); err != nil {
		return nil, err
	}
	r := &runner{p: p, cat: cat, opts: opts, log: opts.Log}
	res := &Result{}
	runSet := p.nodes
	popts := opts.PlanOptions()
	if popts.active() || popts.Force || len(popts.ForceDownstream) > 0 {
		plan, err := Plan(p, cat, popts)
		if err != nil {
			return nil, err
		}
		res.Plan = plan
		runSet = runSet[:0:0]
		for i, d := range plan {
			if d.Run {
				runSet = append(runSet, p.nodes[i])
			} else {
				res.Skipped = append(res.Skipped, d.Node)
			}
		}
		if len(res.Skipped) > 0 {
			r.log.Info().Int("skipped", len(res.Skipped)).Msg("skipping nodes that are up to date")
			for _, d := range plan {
				if !d.Run {
					r.log.Info().Str("node", d.Node).Str("why", d.Reason).Msg("skipped")
				}
			}
		}
		r.log.Info().Msgf("running %d out of %d nodes", len(runSet), len(p.nodes))
	}
	if opts.Cache != nil {
		defer func() {
			if err := opts.Cache.Flush(); err != nil {
				r.log.Warn().Err(err).Msg("could not write the cache lock file")
			}
		}()
	}
	if err := r.checkInputsExist(runSet); err != nil {
		return nil, err
	}
	r.hookPipeline(func(h Hooks) {
		if h.BeforePipelineRun != nil {
			h.BeforePipelineRun(ctx, opts.Info, p)
		}
	})
	if res.Plan != nil {
		r.hookPipeline(func(h Hooks) {
			if h.OnPlan != nil {
				h.OnPlan(ctx, res.Plan)
			}
		})
		for i, d := range res.Plan {
			if !d.Run {
				r.skipped(ctx, p.nodes[i], d.Reason)
			}
		}
	}
	err := r.schedule(ctx, runSet, res)
	res.Duration = time.Since(start)
	if err != nil {
		r.hookPipeline(func(h Hooks) {
			if h.OnPipelineError != nil {
				h.OnPipelineError(ctx, opts.Info, p, err)
			}
		})
		return res, err
	}
	r.hookPipeline(func(h Hooks) {
		if h.AfterPipelineRun != nil {
			h.AfterPipelineRun(ctx, opts.Info, p, res)
		}
	})
	r.log.Info().Str("took", res.Duration.Round(time.Millisecond).String()).Int("nodes", len(res.Ran)).Msg("pipeline execution completed successfully")
	return res, nil
}

type runner struct {
	p      *Pipeline
	cat    *catalog.Catalog
	opts   RunOptions
	log    zerolog.Logger
	hookMu sync.Mutex
}

func (r *runner) hookPipeline(f func(Hooks)) {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	for _, h := range r.opts.Hooks {
		f(h)
	}
}

// checkInputsExist fails before any node runs when a persisted input of
// the nodes to run, not produced by them, is missing on disk.
func (r *runner) checkInputsExist(nodes []*Node) error {
	produced := map[string]bool{}
	for _, n := range nodes {
		for _, o := range n.outputs {
			produced[o.name] = true
		}
	}
	var errs []error
	seen := map[string]bool{}
	for _, n := range nodes {
		for _, in := range n.inputs {
			if produced[in.name] || seen[in.name] {
				continue
			}
			seen[in.name] = true
			if _, isParam := catalog.IsParam(in.name); isParam {
				continue
			}
			ok, err := r.cat.Exists(in.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				continue
			}
			msg := fmt.Sprintf("input dataset %q (%s), read by node %q, does not exist", in.name, r.cat.Describe(in.name), n.Name())
			if _, inPipe := r.p.producer[in.name]; inPipe {
				msg += "; it is written by node " + fmt.Sprintf("%q", r.p.producer[in.name].Name()) + ", which this run skips"
			} else if r.opts.Producers != nil {
				if prods := r.opts.Producers(in.name); len(prods) > 0 {
					msg += fmt.Sprintf("; run pipeline %s first (go run . run --pipeline=%s)", strings.Join(prods, " or "), prods[0])
				} else {
					msg += "; no registered pipeline produces it: put the data at that path"
				}
			}
			errs = append(errs, errors.New(msg))
		}
	}
	return errors.Join(errs...)
}

type nodeDone struct {
	n   *Node
	err error
}

func (r *runner) schedule(ctx context.Context, nodes []*Node, res *Result) error {
	workers := max(r.opts.MaxWorkers, 1)
	order := make(map[*Node]int, len(nodes))
	inRun := make(map[*Node]bool, len(nodes))
	for i, n := range nodes {
		order[n] = i
		inRun[n] = true
	}
	// waiting counts unfinished producers of each node within the run.
	waiting := make(map[*Node]int, len(nodes))
	children := make(map[*Node][]*Node, len(nodes))
	for _, n := range nodes {
		seen := map[*Node]bool{}
		for _, in := range n.inputs {
			if prod, ok := r.p.producer[in.name]; ok && inRun[prod] && !seen[prod] {
				seen[prod] = true
				waiting[n]++
				children[prod] = append(children[prod], n)
			}
		}
	}
	// remaining counts pending readers of each in-memory dataset, so its
	// value is released when the last one is done.
	remaining := map[string]int{}
	for _, n := range nodes {
		for _, in := range n.inputs {
			remaining[in.name]++
		}
	}
	freeInputs := map[string]bool{}
	for _, d := range r.p.Inputs() {
		freeInputs[d] = true
	}
	var ready []*Node
	for _, n := range nodes {
		if waiting[n] == 0 {
			ready = append(ready, n)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	doneCh := make(chan nodeDone)
	running := 0
	done := map[*Node]bool{}
	var failed []*Node
	var failErr error
	stopped := func() bool { return len(failed) > 0 && !r.opts.KeepGoing }
	for {
		for !stopped() && ctx.Err() == nil && running < workers && len(ready) > 0 {
			sort.Slice(ready, func(i, j int) bool { return order[ready[i]] < order[ready[j]] })
			n := ready[0]
			ready = ready[1:]
			running++
			go func() { doneCh <- nodeDone{n, r.runNode(runCtx, n)} }()
		}
		if running == 0 {
			break
		}
		d := <-doneCh
		running--
		if d.err != nil {
			if len(failed) == 0 {
				failErr = d.err
			}
			failed = append(failed, d.n)
			res.Failed = append(res.Failed, d.n.Name())
			if !r.opts.KeepGoing {
				cancel()
			}
			continue
		}
		done[d.n] = true
		res.Ran = append(res.Ran, d.n.Name())
		for _, in := range d.n.inputs {
			remaining[in.name]--
			// Like Kedro, release intermediate in-memory data only: the
			// pipeline's free inputs belong to the caller.
			if remaining[in.name] == 0 && !r.cat.IsPersistent(in.name) && !freeInputs[in.name] {
				r.cat.Release(in.name)
			}
		}
		for _, c := range children[d.n] {
			waiting[c]--
			if waiting[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	if len(failed) == 0 && ctx.Err() == nil {
		return nil
	}
	if r.opts.KeepGoing && len(failed) > 0 {
		// Say why the failed nodes' descendants did not run.
		blocked := r.p.downstream(setOf(failed))
		for _, n := range nodes {
			if blocked[n] && !done[n] && !slices.Contains(failed, n) {
				up := failed[0].Name()
				for _, f := range failed {
					if r.p.downstream(setOf([]*Node{f}))[n] {
						up = f.Name()
						break
					}
				}
				r.skipped(ctx, n, "upstream node "+up+" failed")
			}
		}
	}
	runErr := &RunError{Err: failErr, Done: len(done), Failed: res.Failed}
	if len(failed) > 0 {
		runErr.Node = failed[0].Name()
		if ctx.Err() != nil && errors.Is(failErr, context.Canceled) {
			runErr.Node, runErr.Err = "", ctx.Err()
		}
	} else {
		runErr.Err = ctx.Err()
	}
	for _, n := range nodes {
		if !done[n] {
			runErr.NotRun = append(runErr.NotRun, n.Name())
		}
	}
	runErr.Resume, runErr.Message = r.resumeHint(nodes, done)
	return runErr
}

// runNode loads inputs, calls the node and saves its outputs.
func (r *runner) runNode(ctx context.Context, n *Node) (err error) {
	log := r.log.With().Str("node", n.Name()).Logger()
	start := time.Now()
	inputs := make(map[string]any, len(n.inputs))
	args := make([]any, len(n.inputs))
	for i, in := range n.inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.hookPipeline(func(h Hooks) {
			if h.BeforeDatasetLoaded != nil {
				h.BeforeDatasetLoaded(ctx, in.name, n)
			}
		})
		t0 := time.Now()
		v, err := r.cat.Load(ctx, in.name, in.typ)
		if err != nil {
			r.nodeError(ctx, n, inputs, err)
			return err
		}
		took := time.Since(t0)
		r.hookPipeline(func(h Hooks) {
			if h.AfterDatasetLoaded != nil {
				h.AfterDatasetLoaded(ctx, in.name, v, n, took)
			}
		})
		args[i], inputs[in.name] = v, v
	}
	r.hookPipeline(func(h Hooks) {
		if h.BeforeNodeRun != nil {
			h.BeforeNodeRun(ctx, n, inputs)
		}
	})
	log.Info().Msg("running node")
	t0 := time.Now()
	out, err := n.Call(ctx, args)
	if err == nil && ctx.Err() != nil {
		// A node that ignored cancellation may return a result computed
		// from a half-finished loop; do not save it.
		err = ctx.Err()
	}
	if err != nil {
		r.nodeError(ctx, n, inputs, err)
		return err
	}
	took := time.Since(t0)
	outputs := make(map[string]any, len(out))
	for i, o := range n.outputs {
		v := out[i]
		if v != nil && !reflect.TypeOf(v).AssignableTo(o.typ) {
			err := fmt.Errorf("node %q returned %T for %q, want %v", n.Name(), v, o.name, o.typ)
			r.nodeError(ctx, n, inputs, err)
			return err
		}
		r.hookPipeline(func(h Hooks) {
			if h.BeforeDatasetSaved != nil {
				h.BeforeDatasetSaved(ctx, o.name, v, n)
			}
		})
		t1 := time.Now()
		if err := r.cat.Save(ctx, o.name, v); err != nil {
			r.nodeError(ctx, n, inputs, err)
			return err
		}
		saveTook := time.Since(t1)
		r.hookPipeline(func(h Hooks) {
			if h.AfterDatasetSaved != nil {
				h.AfterDatasetSaved(ctx, o.name, v, n, saveTook)
			}
		})
		outputs[o.name] = v
	}
	if c := r.opts.Cache; c != nil {
		for _, o := range n.outputs {
			if path := datasetPath(r.cat, o.name, nil); path != "" {
				c.forget(path)
			}
		}
		e, err := c.entryFor(n, r.cat, r.opts.Info.RunID, r.opts.Info.LoadVersions)
		if err == nil {
			err = c.record(n.Name(), e)
		}
		if err != nil {
			log.Warn().Err(err).Msg("could not record the node in the cache lock; it will run again next time")
		}
	}
	r.hookPipeline(func(h Hooks) {
		if h.AfterNodeRun != nil {
			h.AfterNodeRun(ctx, n, inputs, outputs, took)
		}
	})
	// took covers loads and saves too; compute is the function alone.
	log.Info().Str("took", time.Since(start).Round(time.Millisecond).String()).
		Str("compute", took.Round(time.Millisecond).String()).Msg("completed node")
	return nil
}

func (r *runner) skipped(ctx context.Context, n *Node, reason string) {
	r.hookPipeline(func(h Hooks) {
		if h.OnNodeSkipped != nil {
			h.OnNodeSkipped(ctx, n, reason)
		}
	})
}

func setOf(ns []*Node) map[*Node]bool {
	m := make(map[*Node]bool, len(ns))
	for _, n := range ns {
		m[n] = true
	}
	return m
}

func (r *runner) nodeError(ctx context.Context, n *Node, inputs map[string]any, err error) {
	r.hookPipeline(func(h Hooks) {
		if h.OnNodeError != nil {
			h.OnNodeError(ctx, n, inputs, err)
		}
	})
}

// resumeHint is Kedro's _suggest_resume_scenario: from the unfinished
// nodes, walk upstream through inputs that are in-memory or missing,
// then keep the first topological group of what must re-run.
func (r *runner) resumeHint(nodes []*Node, done map[*Node]bool) ([]string, string) {
	var unfinished []*Node
	for _, n := range nodes {
		if !done[n] {
			unfinished = append(unfinished, n)
		}
	}
	if len(done) == 0 {
		return nil, "No nodes ran. Repeat the previous command to attempt a new run."
	}
	required := map[*Node]bool{}
	queue := append([]*Node{}, unfinished...)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if required[n] {
			continue
		}
		required[n] = true
		for _, in := range n.inputs {
			if _, isParam := catalog.IsParam(in.name); isParam {
				continue
			}
			prod, ok := r.p.producer[in.name]
			if !ok {
				continue
			}
			exists, err := r.cat.Exists(in.name)
			if !r.cat.IsPersistent(in.name) || err != nil || !exists {
				queue = append(queue, prod)
			}
		}
	}
	var names []string
	for n := range required {
		names = append(names, n.Name())
	}
	sel, _ := r.p.only(names)
	subset := make([]*Node, 0, len(sel))
	for _, n := range r.p.nodes {
		if sel[n] {
			subset = append(subset, n)
		}
	}
	sp := New(subset...)
	var first []string
	if len(sp.groups) > 0 {
		for _, n := range sp.groups[0] {
			first = append(first, n.Name())
		}
	}
	msg := fmt.Sprintf("There are %d nodes that have not run.\nYou can resume the pipeline run from the nearest nodes with persisted inputs by adding the following argument to your previous command:\n  --from-nodes %q",
		len(unfinished), strings.Join(first, ","))
	return first, msg
}

package flow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
}

// Result is what a run did.
type Result struct {
	Ran      []string // node names, in completion order
	Skipped  []string // skipped by OnlyMissingOutputs
	Duration time.Duration
}

// RunError is a run stopped by a node failure or a cancellation. What
// completed stays saved; Resume is the --from-nodes argument that picks
// up from the nearest nodes with persisted inputs ("" when nothing ran).
type RunError struct {
	Node    string // the failed node ("" when the run was cancelled)
	Err     error
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
	if opts.OnlyMissingOutputs {
		var err error
		runSet, res.Skipped, err = nodesWithMissingOutputs(p, cat)
		if err != nil {
			return nil, err
		}
		if len(res.Skipped) > 0 {
			r.log.Info().Int("skipped", len(res.Skipped)).Strs("nodes", res.Skipped).Msg("skipping nodes with existing outputs")
		}
		r.log.Info().Msgf("running %d out of %d nodes", len(runSet), len(p.nodes))
	}
	if err := r.checkInputsExist(runSet); err != nil {
		return nil, err
	}
	r.hookPipeline(func(h Hooks) {
		if h.BeforePipelineRun != nil {
			h.BeforePipelineRun(ctx, opts.Info, p)
		}
	})
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
	var failed *Node
	var failErr error
	for {
		for failed == nil && ctx.Err() == nil && running < workers && len(ready) > 0 {
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
			if failed == nil {
				failed, failErr = d.n, d.err
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
	if failed == nil && ctx.Err() == nil {
		return nil
	}
	runErr := &RunError{Err: failErr, Done: len(done)}
	if failed != nil {
		runErr.Node = failed.Name()
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

// nodesWithMissingOutputs is Kedro's --only-missing-outputs selection,
// walking nodes in reverse topological order: a node runs when it has no
// outputs, when a persisted output is missing, or when an output that a
// running child reads is in-memory or missing.
func nodesWithMissingOutputs(p *Pipeline, cat *catalog.Catalog) (run []*Node, skipped []string, err error) {
	willRun := map[*Node]bool{}
	missing := func(name string) (bool, error) {
		ok, err := cat.Exists(name)
		return !ok, err
	}
	for i := len(p.nodes) - 1; i >= 0; i-- {
		n := p.nodes[i]
		need := len(n.outputs) == 0
		for _, o := range n.outputs {
			if need {
				break
			}
			if cat.IsPersistent(o.name) {
				m, err := missing(o.name)
				if err != nil {
					return nil, nil, err
				}
				if m {
					need = true
					break
				}
			}
			for _, c := range p.consumers[o.name] {
				if !willRun[c] {
					continue
				}
				if !cat.IsPersistent(o.name) {
					need = true
					break
				}
			}
		}
		willRun[n] = need
	}
	for _, n := range p.nodes {
		if willRun[n] {
			run = append(run, n)
		} else {
			skipped = append(skipped, n.Name())
		}
	}
	return run, skipped, nil
}

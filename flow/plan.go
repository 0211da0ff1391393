package flow

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"mmc/catalog"
)

// Decision says whether a node runs and why.
type Decision struct {
	Node   string `json:"node"`
	Run    bool   `json:"run"`
	Reason string `json:"reason"`
}

// PlanOptions choose which nodes a run re-executes.
type PlanOptions struct {
	// Cache is the lock; nil runs every node (caching off) unless
	// OnlyMissingOutputs or Done say otherwise.
	Cache *Cache
	// Force runs every node (the lock is still updated).
	Force bool
	// ForceDownstream runs these nodes and everything downstream.
	ForceDownstream []string
	// OnlyMissingOutputs skips nodes whose persisted outputs all exist,
	// whatever their record (Kedro's --only-missing-outputs).
	OnlyMissingOutputs bool
	// Done are nodes a failed run finished (run --resume): they are
	// skipped unless a running node needs their in-memory output.
	Done []string
	// DoneRun is the id of the run Done comes from, for the reasons.
	DoneRun string
	// LoadVersions are the versions pinned per dataset (--load-versions):
	// a versioned input is compared at that version, not the newest.
	LoadVersions map[string]string
}

// PlanOptions are the options of Plan that Run would use.
func (o RunOptions) PlanOptions() PlanOptions {
	return PlanOptions{Cache: o.Cache, Force: o.Force, ForceDownstream: o.ForceDownstream,
		OnlyMissingOutputs: o.OnlyMissingOutputs, Done: o.Done, DoneRun: o.DoneRun, LoadVersions: o.Info.LoadVersions}
}

func (o PlanOptions) active() bool {
	return o.Cache != nil || o.OnlyMissingOutputs || o.Done != nil
}

// Plan decides, in topological order, which nodes of p run. A node runs
// when forced, when a node upstream of it runs, when a persisted output
// is missing, or when its lock record differs from now (code, a parameter
// leaf, the content of a persisted input or output); a skipped node
// still runs when a running node reads its in-memory output.
func Plan(p *Pipeline, cat *catalog.Catalog, opts PlanOptions) ([]Decision, error) {
	if err := p.Err(); err != nil {
		return nil, err
	}
	pl := &planner{p: p, cat: cat, opts: opts, run: make(map[*Node]bool, len(p.nodes)),
		reason: make(map[*Node]string, len(p.nodes)), leaves: map[string]map[string]string{},
		persistent: map[string]bool{}, exists: map[string]bool{}, paths: map[string]string{}, hashes: map[string]string{}, quicks: map[string]quickInfo{}}
	forced := map[*Node]string{}
	if len(opts.ForceDownstream) > 0 {
		sel, err := p.only(opts.ForceDownstream)
		if err != nil {
			return nil, fmt.Errorf("--force-downstream: %w", err)
		}
		for n := range sel {
			forced[n] = fmt.Sprintf("forced (--force-downstream %s)", n.Name())
		}
		for n := range p.downstream(sel) {
			if _, ok := forced[n]; !ok {
				forced[n] = "forced (downstream of --force-downstream " + strings.Join(opts.ForceDownstream, ",") + ")"
			}
		}
	}
	done := map[string]bool{}
	for _, d := range opts.Done {
		done[d] = true
	}
	for _, n := range p.nodes {
		run, why, err := pl.decide(n, forced, done)
		if err != nil {
			return nil, err
		}
		pl.run[n], pl.reason[n] = run, why
	}
	// A skipped node whose in-memory output a running node reads runs too.
	for i := len(p.nodes) - 1; i >= 0; i-- {
		n := p.nodes[i]
		if pl.run[n] {
			continue
		}
	outs:
		for _, o := range n.outputs {
			if pl.isPersistent(o.name) {
				continue
			}
			for _, c := range p.consumers[o.name] {
				if pl.run[c] {
					pl.run[n] = true
					pl.reason[n] = fmt.Sprintf("its in-memory output %s is needed by node %s, which runs", o.name, c.Name())
					break outs
				}
			}
		}
	}
	out := make([]Decision, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = Decision{Node: n.Name(), Run: pl.run[n], Reason: pl.reason[n]}
	}
	return out, nil
}

type planner struct {
	p          *Pipeline
	cat        *catalog.Catalog
	opts       PlanOptions
	run        map[*Node]bool
	reason     map[*Node]string
	leaves     map[string]map[string]string // param dataset → leaves
	persistent map[string]bool
	exists     map[string]bool
	paths      map[string]string
	hashes     map[string]string
	quicks     map[string]quickInfo
}

func (pl *planner) isPersistent(name string) bool {
	pl.resolve(name)
	return pl.persistent[name]
}

// resolve resolves a dataset once: whether it persists, and its path.
func (pl *planner) resolve(name string) {
	if _, ok := pl.persistent[name]; ok {
		return
	}
	res, err := pl.cat.Resolve(name)
	pl.persistent[name] = err == nil && res.Kind != catalog.Memory
	if err == nil {
		pl.paths[name] = resolvedPath(res, pl.opts.LoadVersions[name])
	}
}

func (pl *planner) existsOnDisk(name string) (bool, error) {
	if v, ok := pl.exists[name]; ok {
		return v, nil
	}
	if pl.opts.Cache != nil && !pl.opts.OnlyMissingOutputs {
		// A local file or folder: its signature stats it once for both.
		if path := pl.path(name); path != "" {
			q, err := pl.quick(path)
			if err != nil {
				return false, err
			}
			pl.exists[name] = q.q != ""
			return q.q != "", nil
		}
	}
	v, err := pl.cat.Exists(name)
	if err != nil {
		return false, err
	}
	pl.exists[name] = v
	return v, nil
}

// path is datasetPath, once per dataset.
func (pl *planner) path(name string) string {
	pl.resolve(name)
	return pl.paths[name]
}

type quickInfo struct {
	q    string
	size int64
}

// quick is the quick signature of path now, once per path.
func (pl *planner) quick(path string) (quickInfo, error) {
	if q, ok := pl.quicks[path]; ok {
		return q, nil
	}
	q, size, err := quickSig(path)
	if err != nil {
		return quickInfo{}, err
	}
	pl.quicks[path] = quickInfo{q, size}
	return pl.quicks[path], nil
}

// hash is the content hash of path now ("" when it is missing), from
// the quick signature when the lock knows it.
func (pl *planner) hash(path string) (string, error) {
	if h, ok := pl.hashes[path]; ok {
		return h, nil
	}
	q, err := pl.quick(path)
	if err != nil || q.q == "" {
		return "", err
	}
	sig, _, err := pl.opts.Cache.signatureQuick(path, q.q, q.size)
	if err != nil {
		return "", err
	}
	pl.hashes[path] = sig.Hash
	return sig.Hash, nil
}

func (pl *planner) paramLeaves(name string) map[string]string {
	if l, ok := pl.leaves[name]; ok {
		return l
	}
	l := paramLeaves(pl.cat.Params(), name)
	pl.leaves[name] = l
	return l
}

func (pl *planner) decide(n *Node, forced map[*Node]string, done map[string]bool) (bool, string, error) {
	if pl.opts.Force {
		return true, "forced (--force)", nil
	}
	if why, ok := forced[n]; ok {
		return true, why, nil
	}
	if pl.opts.Done != nil {
		if done[n.Name()] {
			return false, "finished in run " + pl.opts.DoneRun + " (--resume)", nil
		}
		return true, "not finished in run " + pl.opts.DoneRun + " (--resume)", nil
	}
	if !pl.opts.active() {
		return true, "caching off", nil
	}
	for _, in := range n.inputs {
		if pl.opts.OnlyMissingOutputs {
			break // Kedro's rule: missing outputs only, not what runs upstream
		}
		if prod, ok := pl.p.producer[in.name]; ok && pl.run[prod] {
			return true, fmt.Sprintf("input %s changes (node %s runs)", in.name, prod.Name()), nil
		}
	}
	var missing []string
	for _, o := range n.outputs {
		if !pl.isPersistent(o.name) {
			continue
		}
		ok, err := pl.existsOnDisk(o.name)
		if err != nil {
			return false, "", err
		}
		if !ok {
			missing = append(missing, o.name)
		}
	}
	if len(missing) > 0 {
		return true, "outputs missing: " + strings.Join(missing, ", "), nil
	}
	if pl.opts.OnlyMissingOutputs || pl.opts.Cache == nil {
		if len(n.outputs) == 0 {
			return true, "has no outputs", nil
		}
		return false, "outputs exist (--only-missing-outputs)", nil
	}
	c := pl.opts.Cache
	e := c.Entry(n.Name())
	if e == nil {
		return true, "no record in the lock (never ran with caching)", nil
	}
	if e.Code != c.codeVersion(n) {
		return true, "code changed", nil
	}
	var changed []string
	seen := map[string]bool{}
	for _, in := range n.inputs {
		if _, isParam := catalog.IsParam(in.name); !isParam {
			continue
		}
		for leaf, val := range pl.paramLeaves(in.name) {
			seen[leaf] = true
			old, ok := e.Params[leaf]
			switch {
			case !ok:
				changed = append(changed, fmt.Sprintf("parameter %s added (%s)", leaf, val))
			case old != val:
				changed = append(changed, fmt.Sprintf("parameter %s changed (%s → %s)", leaf, old, val))
			}
		}
	}
	for leaf := range e.Params {
		if !seen[leaf] {
			changed = append(changed, "parameter "+leaf+" removed")
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		if len(changed) > 3 {
			changed = append(changed[:3], fmt.Sprintf("and %d more", len(changed)-3))
		}
		return true, strings.Join(changed, "; "), nil
	}
	for _, group := range []struct {
		ports []port
		rec   map[string]FileRef
		what  string
	}{{n.inputs, e.Inputs, "input"}, {n.outputs, e.Outputs, "output"}} {
		for _, d := range group.ports {
			if _, isParam := catalog.IsParam(d.name); isParam || !pl.isPersistent(d.name) {
				continue
			}
			path := pl.path(d.name)
			if path == "" {
				continue // remote or without a file: existence is all we check
			}
			rec, ok := group.rec[d.name]
			if !ok {
				return true, fmt.Sprintf("%s %s is not in the lock record", group.what, d.name), nil
			}
			if rec.Path != path {
				return true, fmt.Sprintf("%s %s is now %s (was %s)", group.what, d.name, path, rec.Path), nil
			}
			hash, err := pl.hash(path)
			if err != nil {
				return false, "", fmt.Errorf("node %q: check %s %q: %w", n.Name(), group.what, d.name, err)
			}
			if hash != rec.Hash {
				if group.what == "output" {
					return true, fmt.Sprintf("output %s changed since it was written", d.name), nil
				}
				return true, fmt.Sprintf("input %s changed", d.name), nil
			}
		}
	}
	for name := range e.Inputs {
		if !slices.ContainsFunc(n.inputs, func(p port) bool { return p.name == name }) {
			return true, "inputs changed (no longer reads " + name + ")", nil
		}
	}
	when := ""
	if e.Run != "" {
		when = " as in run " + e.Run
	}
	return false, "up to date (same code, parameters and inputs" + when + ")", nil
}

// entryFor builds the lock entry of a node that just ran.
func (c *Cache) entryFor(n *Node, cat *catalog.Catalog, runID string, pins map[string]string) (*LockEntry, error) {
	e := &LockEntry{Code: c.codeVersion(n), Run: runID}
	for _, in := range n.inputs {
		if _, isParam := catalog.IsParam(in.name); isParam {
			if e.Params == nil {
				e.Params = map[string]string{}
			}
			maps.Copy(e.Params, paramLeaves(cat.Params(), in.name))
			continue
		}
		if err := c.addRef(&e.Inputs, cat, in.name, pins); err != nil {
			return nil, err
		}
	}
	for _, o := range n.outputs {
		if err := c.addRef(&e.Outputs, cat, o.name, nil); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (c *Cache) addRef(m *map[string]FileRef, cat *catalog.Catalog, name string, pins map[string]string) error {
	path := datasetPath(cat, name, pins)
	if path == "" {
		return nil
	}
	sig, ok, err := c.signature(path)
	if err != nil {
		return fmt.Errorf("hash dataset %q: %w", name, err)
	}
	if !ok {
		return nil
	}
	if *m == nil {
		*m = map[string]FileRef{}
	}
	(*m)[name] = FileRef{Path: path, Hash: sig.Hash}
	return nil
}

// forget drops a path's in-process signature after the path was
// rewritten, so the next signature hashes it again.
func (c *Cache) forget(path string) {
	c.mu.Lock()
	delete(c.fresh, path)
	delete(c.known, path)
	c.mu.Unlock()
}

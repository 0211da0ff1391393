// Package export turns a pipeline into the input of an existing
// distributed engine: an Argo Workflows Workflow (argo.go) or an Airflow
// DAG file (airflow.go). mmc stays the unit of work: every task runs
//
//	mmc run --pipeline P --nodes n1,n2,… [--shard i/N] [--params …]
//
// in a container image, and tasks pass data only through the catalog
// (a bucket or a shared volume). Plan decides the tasks: one per node,
// per namespace or per group of nodes joined by in-memory datasets, with
// dependencies from the DAG and resource requests from node tags
// ("cpu:2", "memory:16Gi", "gpu:1").
package export

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"mmc/flow"
)

// GroupBy says how nodes are gathered into tasks.
type GroupBy string

// The ways nodes become tasks.
const (
	// ByNode makes one task per node; an in-memory dataset between two
	// nodes is an error (it cannot cross pods).
	ByNode GroupBy = "none"
	// ByNamespace makes one task per namespace (a node without one is a
	// task of its own); in-memory datasets across tasks are an error.
	ByNamespace GroupBy = "namespace"
	// ByMemory joins nodes connected by in-memory datasets into one task.
	ByMemory GroupBy = "memory"
)

// ParseGroupBy checks a --group-by value.
func ParseGroupBy(s string) (GroupBy, error) {
	switch g := GroupBy(s); g {
	case ByNode, ByNamespace, ByMemory:
		return g, nil
	}
	return "", fmt.Errorf("--group-by %q: want none, namespace or memory", s)
}

// ShardableTag marks a node that can process the i-th of n partitions of
// its input (`run --shard i/n`); exports fan it out over --shards.
const ShardableTag = "shardable"

// Persistence tells which datasets survive a task: those with a catalog
// entry. *catalog.Catalog implements it.
type Persistence interface {
	IsPersistent(dataset string) bool
}

// Options describe one export.
type Options struct {
	Pipeline string  // registered name, passed to `run --pipeline`
	GroupBy  GroupBy // ByMemory when empty
	Image    string  // container image; DefaultImage when empty
	// Program is the command in the image; "mmc" when empty.
	Program string
	// Env is passed as --env when not empty.
	Env string
	// Shards fans shardable nodes out into this many tasks (0 or 1: none).
	Shards int
	// Params are --params given to every task ("a.b=1,c=x").
	Params string
	// Name is the workflow's (or DAG's) name; from Pipeline when empty.
	Name string
	// Template writes a WorkflowTemplate instead of a Workflow (Argo).
	Template bool
	// Namespace is the Kubernetes namespace of the pods (Airflow) or the
	// workflow (Argo); omitted when empty.
	Namespace string
	// Sweep runs the whole pipeline once per member, in parallel.
	Sweep *Sweep
	// VolumeClaim, when set, is a PersistentVolumeClaim mounted at
	// DataDir in every task: shared storage for relative data/ paths.
	VolumeClaim string
	// CredentialsSecret, when set, is a Kubernetes secret with a key
	// credentials.yml, mounted as conf/<env>/credentials.yml.
	CredentialsSecret string
}

// Where the image (see the Dockerfile) keeps its data and configuration.
const (
	DataDir = "/app/data"
	ConfDir = "/app/conf"
)

// credentialsPath is where CredentialsSecret is mounted.
func (o Options) credentialsPath() string {
	env := o.Env
	if env == "" {
		env = "local"
	}
	return ConfDir + "/" + env + "/credentials.yml"
}

// DefaultImage is the image named when Options.Image is empty: what the
// repository's Dockerfile builds.
const DefaultImage = "mmc:latest"

// Resources are a task's requests.
type Resources struct {
	CPU    string // "2", "500m"
	Memory string // "16Gi"
	GPU    int
}

// Task is one unit of the distributed run.
type Task struct {
	Name      string   // DNS-1123 label, unique in the plan
	Nodes     []string // full node names, in the pipeline's order
	DependsOn []string // task names
	Sharded   bool     // fanned out over Options.Shards
	Resources Resources
}

// Plan is the tasks of one pipeline, in topological order.
type Plan struct {
	Pipeline string
	Tasks    []Task
}

// NewPlan groups p's nodes into tasks. persist says which datasets have
// a catalog entry; an in-memory dataset that crosses from one task to
// another is an error naming it.
func NewPlan(p *flow.Pipeline, persist Persistence, o Options) (*Plan, error) {
	if err := p.Err(); err != nil {
		return nil, err
	}
	if o.GroupBy == "" {
		o.GroupBy = ByMemory
	}
	nodes := p.Nodes()
	if len(nodes) == 0 {
		return nil, fmt.Errorf("pipeline %s has no nodes", o.Pipeline)
	}
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.Name()] = i
	}
	uf := newUnion(len(nodes))
	switch o.GroupBy {
	case ByNamespace:
		first := map[string]int{}
		for i, n := range nodes {
			if ns := n.Namespace(); ns != "" {
				if j, ok := first[ns]; ok {
					uf.join(i, j)
				} else {
					first[ns] = i
				}
			}
		}
	case ByMemory:
		for _, ds := range p.Datasets() {
			if persist.IsPersistent(ds) {
				continue
			}
			prod, ok := p.Producer(ds)
			if !ok {
				continue
			}
			for _, c := range p.Consumers(ds) {
				uf.join(index[prod.Name()], index[c.Name()])
			}
		}
	}
	// Joining can make two groups depend on each other (a → b in memory,
	// a → c → b through files): merge each cycle into one task.
	for {
		deps := groupDeps(p, nodes, index, uf)
		cyc := findCycle(deps)
		if cyc == nil {
			break
		}
		for _, g := range cyc[1:] {
			uf.join(cyc[0], g)
		}
	}
	// In-memory datasets must not cross a task boundary.
	for _, ds := range p.Datasets() {
		prod, ok := p.Producer(ds)
		if !ok || persist.IsPersistent(ds) {
			continue
		}
		for _, c := range p.Consumers(ds) {
			if uf.find(index[prod.Name()]) != uf.find(index[c.Name()]) {
				return nil, fmt.Errorf("dataset %q is in memory (no catalog entry) but passes from node %q to node %q, which run in different tasks: "+
					"give %q a catalog entry on shared storage (a bucket such as s3://…, or a shared volume), or export with --group-by memory",
					ds, prod.Name(), c.Name(), ds)
			}
		}
	}
	// Tasks in the order of their first node (nodes are topological).
	var order []int
	members := map[int][]int{}
	for i := range nodes {
		r := uf.find(i)
		if _, ok := members[r]; !ok {
			order = append(order, r)
		}
		members[r] = append(members[r], i)
	}
	deps := groupDeps(p, nodes, index, uf)
	names := map[int]string{}
	used := map[string]bool{}
	plan := &Plan{Pipeline: o.Pipeline}
	for _, r := range order {
		t := Task{}
		for _, i := range members[r] {
			n := nodes[i]
			t.Nodes = append(t.Nodes, n.Name())
			if slices.Contains(n.Tags(), ShardableTag) && o.Shards > 1 {
				t.Sharded = true
			}
			if err := addResources(&t.Resources, n); err != nil {
				return nil, err
			}
		}
		if t.Sharded && len(t.Nodes) > 1 {
			return nil, fmt.Errorf("shardable node in task with %s: a sharded node must run alone; give its inputs and outputs catalog entries", strings.Join(t.Nodes, ", "))
		}
		base := taskName(t.Nodes, nodes[members[r][0]])
		name := base
		for k := 2; used[name]; k++ {
			name = fmt.Sprintf("%s-%d", base, k)
		}
		used[name] = true
		names[r] = name
		t.Name = name
		plan.Tasks = append(plan.Tasks, t)
	}
	for k, r := range order {
		var ds []string
		for d := range deps[r] {
			ds = append(ds, names[d])
		}
		sort.Strings(ds)
		plan.Tasks[k].DependsOn = ds
	}
	return plan, nil
}

// groupDeps maps each group root to the roots of the groups it reads from.
func groupDeps(p *flow.Pipeline, nodes []*flow.Node, index map[string]int, uf *union) map[int]map[int]bool {
	deps := map[int]map[int]bool{}
	for i, n := range nodes {
		g := uf.find(i)
		if deps[g] == nil {
			deps[g] = map[int]bool{}
		}
		for _, in := range n.InputNames() {
			prod, ok := p.Producer(in)
			if !ok {
				continue
			}
			if h := uf.find(index[prod.Name()]); h != g {
				deps[g][h] = true
			}
		}
	}
	return deps
}

// findCycle returns the groups of one dependency cycle, or nil.
func findCycle(deps map[int]map[int]bool) []int {
	const (
		white = iota
		grey
		black
	)
	colour := map[int]int{}
	var stack []int
	var cycle []int
	var visit func(g int) bool
	visit = func(g int) bool {
		colour[g] = grey
		stack = append(stack, g)
		for _, h := range sortedInts(deps[g]) {
			switch colour[h] {
			case grey:
				at := slices.Index(stack, h)
				cycle = slices.Clone(stack[at:])
				return true
			case white:
				if visit(h) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[g] = black
		return false
	}
	for _, g := range sortedInts(deps) {
		if colour[g] == white && visit(g) {
			return cycle
		}
	}
	return nil
}

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

type union struct{ parent []int }

func newUnion(n int) *union {
	u := &union{parent: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *union) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

// join keeps the smaller index as root, so a group's root is its first
// node in topological order.
func (u *union) join(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if ra < rb {
		u.parent[rb] = ra
	} else {
		u.parent[ra] = rb
	}
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// Label turns s into a DNS-1123 label (lowercase letters, digits and
// '-', at most 63 characters, alphanumeric at both ends), as Argo task
// and Kubernetes names need.
func Label(s string) string {
	l := nonLabel.ReplaceAllString(strings.ToLower(s), "-")
	l = strings.Trim(l, "-")
	for strings.Contains(l, "--") {
		l = strings.ReplaceAll(l, "--", "-")
	}
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	if l == "" {
		l = "task"
	}
	if l[0] >= '0' && l[0] <= '9' {
		l = "t-" + l
		if len(l) > 63 {
			l = strings.TrimRight(l[:63], "-")
		}
	}
	return l
}

// taskName names a task by its node, or its namespace and first node.
func taskName(members []string, first *flow.Node) string {
	if len(members) == 1 {
		return Label(members[0])
	}
	if ns := first.Namespace(); ns != "" && allIn(members, ns) {
		return Label(ns)
	}
	return Label(first.Name() + "-group")
}

func allIn(names []string, ns string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, ns+".") {
			return false
		}
	}
	return true
}

// addResources raises r to a node's cpu:, memory: and gpu: tags.
func addResources(r *Resources, n *flow.Node) error {
	for _, tag := range n.Tags() {
		key, val, ok := strings.Cut(tag, ":")
		if !ok {
			continue
		}
		switch key {
		case "cpu":
			c, err := cpuMillis(val)
			if err != nil {
				return fmt.Errorf("node %q: tag %q: %w", n.Name(), tag, err)
			}
			if old, _ := cpuMillis(r.CPU); r.CPU == "" || c > old {
				r.CPU = val
			}
		case "memory":
			b, err := memoryBytes(val)
			if err != nil {
				return fmt.Errorf("node %q: tag %q: %w", n.Name(), tag, err)
			}
			if old, _ := memoryBytes(r.Memory); r.Memory == "" || b > old {
				r.Memory = val
			}
		case "gpu":
			g, err := strconv.Atoi(val)
			if err != nil || g < 0 {
				return fmt.Errorf("node %q: tag %q: want a whole number of GPUs", n.Name(), tag)
			}
			r.GPU = max(r.GPU, g)
		}
	}
	return nil
}

// cpuMillis parses a Kubernetes CPU quantity ("2", "0.5", "500m").
func cpuMillis(s string) (int64, error) {
	if m, ok := strings.CutSuffix(s, "m"); ok {
		v, err := strconv.ParseInt(m, 10, 64)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("cpu %q: want cores (2, 0.5) or millicores (500m)", s)
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("cpu %q: want cores (2, 0.5) or millicores (500m)", s)
	}
	return int64(f * 1000), nil
}

// memoryBytes parses a Kubernetes memory quantity ("16Gi", "512Mi", "1G").
func memoryBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 {
				break
			}
			return int64(v * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("memory %q: want a quantity such as 16Gi, 512Mi or 2G", s)
}

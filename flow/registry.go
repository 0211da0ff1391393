package flow

import (
	"fmt"
	"sort"
	"strings"

	"mmc/config"
)

// DefaultPipeline is the name run when no pipeline is given.
const DefaultPipeline = "__default__"

// Entry is one registered pipeline name.
type Entry struct {
	Name        string
	Description string
	// Build returns the pipeline; nil while the pipeline is not built yet.
	Build func() *Pipeline
	// Missing says what is not built yet, for entries without Build.
	Missing string
}

// Built reports whether the entry has a pipeline.
func (e *Entry) Built() bool { return e.Build != nil }

// Registry maps pipeline names to pipelines, like Kedro's
// register_pipelines. Every name the project knows is registered, built
// or not, so a not-yet-built pipeline fails at once with a message
// instead of vanishing.
type Registry struct {
	entries map[string]*Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]*Entry{}} }

// Add registers a built pipeline. Registering a name twice panics: the
// registry is wired at start-up, so this is a programming error.
func (r *Registry) Add(name, description string, build func() *Pipeline) {
	r.put(&Entry{Name: name, Description: description, Build: build})
}

// Planned registers a name whose pipeline is not built yet; missing says
// what is lacking (shown by `registry list` and by a run attempt).
func (r *Registry) Planned(name, description, missing string) {
	r.put(&Entry{Name: name, Description: description, Missing: missing})
}

func (r *Registry) put(e *Entry) {
	if _, dup := r.entries[e.Name]; dup {
		panic(fmt.Sprintf("flow.Registry: pipeline %q registered twice", e.Name))
	}
	r.entries[e.Name] = e
}

// Names lists the registered names, sorted, with __default__ first.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.entries))
	for n := range r.entries {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == DefaultPipeline) != (out[j] == DefaultPipeline) {
			return out[i] == DefaultPipeline
		}
		return out[i] < out[j]
	})
	return out
}

// Entry returns the entry for name, or an error with a suggestion.
func (r *Registry) Entry(name string) (*Entry, error) {
	e, ok := r.entries[name]
	if !ok {
		return nil, fmt.Errorf("failed to find the pipeline named %q%s; registered pipelines: %s",
			name, config.DidYouMean(name, r.Names()), strings.Join(r.Names(), ", "))
	}
	return e, nil
}

// NotBuiltError is a run request for a registered pipeline whose nodes
// are not built yet.
type NotBuiltError struct {
	Name    string
	Missing string
}

// Error says which pipeline is not built and what it lacks.
func (e *NotBuiltError) Error() string {
	return fmt.Sprintf("pipeline %q is registered but not built yet: %s", e.Name, e.Missing)
}

// Pipeline builds and sums the named pipelines ("__default__" when none
// is given). An unknown name or one not built yet is an error; so is a
// pipeline that fails validation.
func (r *Registry) Pipeline(names ...string) (*Pipeline, error) {
	if len(names) == 0 {
		names = []string{DefaultPipeline}
	}
	var parts []*Pipeline
	for _, name := range names {
		e, err := r.Entry(name)
		if err != nil {
			return nil, err
		}
		if !e.Built() {
			return nil, &NotBuiltError{Name: name, Missing: e.Missing}
		}
		p := e.Build()
		if p == nil {
			return nil, &NotBuiltError{Name: name, Missing: "its builder returned no pipeline"}
		}
		if err := p.Err(); err != nil {
			return nil, fmt.Errorf("pipeline %q is invalid: %w", name, err)
		}
		parts = append(parts, p)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	p := Sum(parts...)
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("pipelines %s do not combine: %w", strings.Join(names, "+"), err)
	}
	return p, nil
}

// Producers lists the built pipelines that write a dataset, for error
// messages about a missing input.
func (r *Registry) Producers(dataset string) []string {
	return r.ProducersMatching(func(out string) bool { return out == dataset })
}

// ProducersMatching lists the built pipelines that write a dataset for
// which match is true. Callers match by resolved file path too, since two
// pipelines may name one file differently (a training pipeline's
// "vilbert_lmdb_train.model" is an inference pipeline's "vilbert_inference.model").
func (r *Registry) ProducersMatching(match func(dataset string) bool) []string {
	var out []string
	for _, name := range r.Names() {
		e := r.entries[name]
		if !e.Built() || name == DefaultPipeline {
			continue
		}
		p := e.Build()
		if p == nil || p.Err() != nil {
			continue
		}
		for _, ds := range p.Datasets() {
			if _, produced := p.Producer(ds); produced && match(ds) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

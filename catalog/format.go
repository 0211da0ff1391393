package catalog

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"mmc/config"
)

// Dataset is one configured dataset: the I/O behind one catalog entry.
type Dataset interface {
	// Load reads the data as a value assignable to t.
	Load(ctx context.Context, t reflect.Type) (any, error)
	// Save writes v; file-backed formats write atomically.
	Save(ctx context.Context, v any) error
	// Exists reports whether Load would find data.
	Exists() (bool, error)
	// Describe is a one-line summary ("jsonl data/01_raw/train.jsonl").
	Describe() string
}

// Spec is a resolved catalog entry as handed to a format's constructor.
type Spec struct {
	Name      string         // dataset name
	Type      string         // format name, as written after "type:"
	Filepath  string         // resolved path (versioned layout already applied)
	LoadArgs  map[string]any // load_args, nil when absent
	SaveArgs  map[string]any // save_args, nil when absent
	Versioned bool
	Metadata  map[string]any
	Extra     map[string]any // any other key of the entry
	// Pos is where the entry was written; Conf is the catalog tree and
	// Key the entry's key in it, for positions of the args.
	Pos  config.Pos
	Conf *config.Tree
	Key  string
}

// DecodeLoadArgs decodes load_args strictly into v (see config.Decode).
func (s Spec) DecodeLoadArgs(v any) error { return s.decodeArgs("load_args", s.LoadArgs, v) }

// DecodeSaveArgs decodes save_args strictly into v.
func (s Spec) DecodeSaveArgs(v any) error { return s.decodeArgs("save_args", s.SaveArgs, v) }

// decodeArgs decodes the args map the spec already holds (substituted,
// for factory matches) rather than looking it up by a dotted path: an
// entry key may itself contain dots ("ns.metrics", "{pipeline}.x").
func (s Spec) decodeArgs(field string, args map[string]any, v any) error {
	if args == nil {
		return nil
	}
	if err := config.DecodeValue(s.Conf, s.Key+"."+field, args, v); err != nil {
		return fmt.Errorf("dataset %q: %w", s.Name, err)
	}
	return nil
}

// Layer is the viz layer from metadata.layer or metadata.kedro-viz.layer.
func (s Spec) Layer() string {
	if l, ok := s.Metadata["layer"].(string); ok {
		return l
	}
	if kv, ok := s.Metadata["kedro-viz"].(map[string]any); ok {
		if l, ok := kv["layer"].(string); ok {
			return l
		}
	}
	return ""
}

// Format is a dataset type usable as "type: <Name>" in catalog files.
type Format struct {
	Name string
	Doc  string
	// New builds a dataset from its entry. It should only parse and check
	// arguments; I/O happens in Load and Save.
	New func(Spec) (Dataset, error)
	// Accepts returns nil when the format can load into and save from Go
	// type t, else an error saying what it supports. Nil means any type.
	Accepts func(t reflect.Type) error
	// NeedsFilepath makes a missing filepath an error at validation.
	NeedsFilepath bool
}

// formatSet indexes the formats one catalog knows, by name.
type formatSet map[string]Format

// newFormatSet indexes fs; a format without a name or constructor, or a
// name given twice, is an error.
func newFormatSet(fs []Format) (formatSet, error) {
	set := make(formatSet, len(fs))
	for _, f := range fs {
		if f.Name == "" || f.New == nil {
			return nil, fmt.Errorf("catalog format %q needs a Name and a New function", f.Name)
		}
		if _, dup := set[f.Name]; dup {
			return nil, fmt.Errorf("catalog format %q given twice", f.Name)
		}
		set[f.Name] = f
	}
	return set, nil
}

// names lists the format names, sorted.
func (s formatSet) names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AcceptTypes returns an Accepts function allowing exactly the given
// types (and, for interface types among them, handles of that interface).
func AcceptTypes(types ...reflect.Type) func(reflect.Type) error {
	return func(t reflect.Type) error {
		for _, want := range types {
			if t == want {
				return nil
			}
		}
		names := make([]string, len(types))
		for i, want := range types {
			names[i] = want.String()
		}
		return fmt.Errorf("supports %s, not %s", strings.Join(names, ", "), t)
	}
}

package export

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
)

// Sweep is a set of parameter combinations run side by side: each member
// runs the whole pipeline with its own --params and its own output
// folder. A sweep file lists members, a grid, or both:
//
//	output_param: run_dir            # runtime parameter naming the output folder
//	output_dir: data/sweeps          # member m writes under data/sweeps/<m>
//	members:
//	  - name: small-lr
//	    params: {vilbert_synthetic_train.train.lr: 1.0e-5}
//	grid:                            # every combination becomes a member
//	  vilbert_synthetic_train.train.lr: [1.0e-5, 5.0e-5]
//	  vilbert_synthetic_train.train.seed: [1, 2]
//
// The output folder reaches the catalog as a runtime parameter: entries
// that should differ per member use it in their filepath, e.g.
// filepath: ${runtime_params:run_dir, data}/05_model_output/model.safetensors.
type Sweep struct {
	OutputParam string         `yaml:"output_param"`
	OutputDir   string         `yaml:"output_dir"`
	Members     []SweepMember  `yaml:"members"`
	Grid        map[string]any `yaml:"grid"`
}

// SweepMember is one parameter combination.
type SweepMember struct {
	Name   string         `yaml:"name"`
	Params map[string]any `yaml:"params"`
}

// ReadSweep reads and expands a sweep file.
func ReadSweep(path string) (*Sweep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sweep: %w", err)
	}
	var s Sweep
	if err := yaml.UnmarshalWithOptions(b, &s, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", path, err)
	}
	if err := s.expand(); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", path, err)
	}
	return &s, nil
}

// expand adds the grid's combinations to the members, fills defaults
// and checks names.
func (s *Sweep) expand() error {
	if s.OutputParam == "" {
		s.OutputParam = "run_dir"
	}
	if s.OutputDir == "" {
		s.OutputDir = "data/sweeps"
	}
	if len(s.Grid) > 0 {
		keys := make([]string, 0, len(s.Grid))
		for k := range s.Grid {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		combos := []map[string]any{{}}
		for _, k := range keys {
			vals, ok := s.Grid[k].([]any)
			if !ok || len(vals) == 0 {
				return fmt.Errorf("grid %s: want a non-empty list of values", k)
			}
			var next []map[string]any
			for _, c := range combos {
				for _, v := range vals {
					m := make(map[string]any, len(c)+1)
					for ck, cv := range c {
						m[ck] = cv
					}
					m[k] = v
					next = append(next, m)
				}
			}
			combos = next
		}
		for _, c := range combos {
			var parts []string
			for _, k := range keys {
				short := k[strings.LastIndex(k, ".")+1:]
				parts = append(parts, fmt.Sprintf("%s-%v", short, c[k]))
			}
			s.Members = append(s.Members, SweepMember{Name: strings.Join(parts, "-"), Params: c})
		}
	}
	if len(s.Members) == 0 {
		return fmt.Errorf("no members and no grid")
	}
	seen := map[string]bool{}
	for i := range s.Members {
		m := &s.Members[i]
		if m.Name == "" {
			m.Name = fmt.Sprintf("member-%d", i)
		}
		m.Name = Label(m.Name)
		if seen[m.Name] {
			return fmt.Errorf("two members are named %q", m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// ParamsArg is the member's --params value, its output folder included.
func (s *Sweep) ParamsArg(m SweepMember) string {
	keys := make([]string, 0, len(m.Params))
	for k := range m.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m.Params[k]))
	}
	parts = append(parts, fmt.Sprintf("%s=%s/%s", s.OutputParam, strings.TrimRight(s.OutputDir, "/"), m.Name))
	return strings.Join(parts, ",")
}

// variant is one copy of the plan: the whole run, or one sweep member.
type variant struct {
	prefix string // task name prefix ("" without a sweep)
	params string // --params
}

func variants(o Options) []variant {
	if o.Sweep == nil {
		return []variant{{params: o.Params}}
	}
	var out []variant
	for _, m := range o.Sweep.Members {
		p := o.Sweep.ParamsArg(m)
		if o.Params != "" {
			p = o.Params + "," + p
		}
		out = append(out, variant{prefix: m.Name + "-", params: p})
	}
	return out
}

// runArgs is the command line of one task (without the program).
func runArgs(o Options, t Task, v variant, shardExpr string) []string {
	args := []string{"run", "--pipeline", o.Pipeline, "--nodes", strings.Join(t.Nodes, ",")}
	if o.Env != "" {
		args = append(args, "--env", o.Env)
	}
	if v.params != "" {
		args = append(args, "--params", v.params)
	}
	if t.Sharded {
		args = append(args, "--shard", shardExpr)
	}
	return args
}

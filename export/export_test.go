package export

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/flow"
)

// files is a Persistence: the named datasets have catalog entries.
type files map[string]bool

func (f files) IsPersistent(ds string) bool { return f[ds] }

var (
	raw      = catalog.Declare[int]("raw")
	parts    = catalog.Declare[int]("parts")
	mem      = catalog.Declare[int]("mem")
	side     = catalog.Declare[int]("side")
	model    = catalog.Declare[int]("model")
	report   = catalog.Declare[int]("report")
	allFiles = files{"raw": true, "parts": true, "mem": true, "side": true, "model": true, "report": true}
)

func inc(_ context.Context, a int) (int, error)    { return a + 1, nil }
func add(_ context.Context, a, b int) (int, error) { return a + b, nil }

// testPipeline: shard → (parts) → prep → (mem) → train → (model) → report;
// prep → (side) → train as well.
func testPipeline() *flow.Pipeline {
	return flow.New(
		flow.Node1("extract", inc, raw, parts).Tagged(ShardableTag, "cpu:2", "memory:4Gi"),
		flow.Node1("prep", inc, parts, mem),
		flow.Node1("side_prep", inc, parts, side),
		flow.Node2("train", add, mem, side, model).Tagged("gpu:1", "memory:16Gi", "cpu:500m"),
		flow.Node1("report", inc, model, report),
	)
}

func TestPlanGrouping(t *testing.T) {
	p := testPipeline()
	memOnly := files{"raw": true, "parts": true, "side": true, "model": true, "report": true}
	tests := []struct {
		name    string
		persist files
		group   GroupBy
		want    []string // task: nodes
		wantErr string
	}{
		{"one task per node", allFiles, ByNode,
			[]string{"extract:extract", "prep:prep", "side-prep:side_prep", "train:train", "report:report"}, ""},
		{"in-memory dataset across tasks", memOnly, ByNode, nil,
			`dataset "mem" is in memory (no catalog entry) but passes from node "prep" to node "train"`},
		{"memory grouping joins prep and train", memOnly, ByMemory,
			[]string{"extract:extract", "prep-group:prep,train", "side-prep:side_prep", "report:report"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := NewPlan(p, tt.persist, Options{Pipeline: "p", GroupBy: tt.group})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--group-by memory") {
					t.Fatalf("err = %v, want %q and the --group-by memory advice", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tk := range plan.Tasks {
				got = append(got, tk.Name+":"+strings.Join(tk.Nodes, ","))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("tasks %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPlanMergesCycles: a → b in memory and a → c → b through files
// would make {a,b} and {c} depend on each other; they become one task.
func TestPlanMergesCycles(t *testing.T) {
	p := flow.New(
		flow.Node1("a", inc, raw, mem),
		flow.Node1("c", inc, mem, parts), // reads mem too
		flow.Node2("b", add, mem, parts, model),
	)
	persist := files{"raw": true, "parts": true, "model": true}
	// mem joins a, b and c already; use side to force the file-only path.
	plan, err := NewPlan(p, persist, Options{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Tasks) != 1 || len(plan.Tasks[0].Nodes) != 3 {
		t.Fatalf("tasks %+v, want one task of three nodes", plan.Tasks)
	}
	// a → b in memory, a → c → b through files: {a,b} and {c} would
	// depend on each other.
	q := flow.New(
		flow.Node1x2("a", split, raw, mem, side),
		flow.Node1("c", inc, side, parts),
		flow.Node2("b", add, mem, parts, model),
	)
	persist = files{"raw": true, "parts": true, "side": true, "model": true}
	plan, err = NewPlan(q, persist, Options{Pipeline: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Tasks) != 1 || len(plan.Tasks[0].Nodes) != 3 {
		t.Fatalf("tasks %+v, want the cycle merged into one task", plan.Tasks)
	}
}

func split(_ context.Context, a int) (int, int, error) { return a, a, nil }

// TestPlanByNamespace: one task per namespace; a node without one is a
// task of its own.
func TestPlanByNamespace(t *testing.T) {
	inner := flow.New(
		flow.Node1("prep", inc, parts, mem),
		flow.Node1("train", inc, mem, model),
	)
	p := flow.Sum(
		flow.New(flow.Node1("extract", inc, raw, parts)),
		flow.Namespaced(inner, "exp", flow.Remap{Inputs: flow.Renames(flow.Rename(parts, parts)), Outputs: flow.Renames(flow.Rename(model, model))}),
	)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(p, files{"raw": true, "parts": true, "model": true}, Options{Pipeline: "p", GroupBy: ByNamespace})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range plan.Tasks {
		got = append(got, tk.Name+":"+strings.Join(tk.Nodes, ",")+"<"+strings.Join(tk.DependsOn, ","))
	}
	if want := "extract:extract< exp:exp.prep,exp.train<extract"; strings.Join(got, " ") != want {
		t.Errorf("tasks %v, want %s", got, want)
	}
}

func TestArgoExportValidates(t *testing.T) {
	p := testPipeline()
	for _, o := range []Options{
		{Pipeline: "p", GroupBy: ByNode},
		{Pipeline: "p", GroupBy: ByNode, Shards: 4, Image: "registry.example/mmc:1", Env: "demo", Template: true,
			VolumeClaim: "shared-data", CredentialsSecret: "mmc-credentials"},
		{Pipeline: "p", GroupBy: ByNode, Sweep: &Sweep{Grid: map[string]any{"train.lr": []any{0.1, 0.01}, "train.seed": []any{1, 2}}}},
	} {
		if o.Sweep != nil {
			if err := o.Sweep.expand(); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := NewPlan(p, allFiles, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ArgoYAML(plan, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateArgo(b, plan, o); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		w, _ := ParseArgo(b)
		want := len(plan.Tasks)
		if o.Sweep != nil {
			want *= len(o.Sweep.Members)
			if !bytes.Contains(b, []byte("run_dir=data/sweeps/lr-0-01-seed-2")) {
				t.Errorf("sweep member output folder missing:\n%s", b)
			}
		}
		if got := len(w.Spec.Templates[0].DAG.Tasks); got != want {
			t.Errorf("%d tasks, want %d", got, want)
		}
		if o.Shards > 0 {
			s := string(b)
			for _, frag := range []string{"withSequence:", "count: \"4\"", "{{inputs.parameters.shard}}/4", "nvidia.com/gpu: \"1\"", "memory: 16Gi", "cpu: 500m", "kind: WorkflowTemplate",
				"claimName: shared-data", "mountPath: /app/data", "secretName: mmc-credentials", "mountPath: /app/conf/demo/credentials.yml"} {
				if !strings.Contains(s, frag) {
					t.Errorf("workflow lacks %q:\n%s", frag, s)
				}
			}
		}
		// A changed dependency is caught.
		bad := bytes.Replace(b, []byte("- prep\n"), []byte("- report\n"), 1)
		if err := ValidateArgo(bad, plan, o); err == nil {
			t.Errorf("ValidateArgo accepted a workflow with a wrong dependency")
		}
	}
}

func TestResourcesTakeTheLargest(t *testing.T) {
	p := flow.New(
		flow.Node1("a", inc, raw, mem).Tagged("cpu:500m", "memory:1Gi"),
		flow.Node1("b", inc, mem, model).Tagged("cpu:2", "memory:512Mi", "gpu:1"),
	)
	plan, err := NewPlan(p, files{"raw": true, "model": true}, Options{Pipeline: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := plan.Tasks[0].Resources, (Resources{CPU: "2", Memory: "1Gi", GPU: 1}); got != want {
		t.Errorf("resources %+v, want %+v", got, want)
	}
	bad := flow.New(flow.Node1("a", inc, raw, mem).Tagged("memory:lots"))
	if _, err := NewPlan(bad, files{}, Options{Pipeline: "p"}); err == nil || !strings.Contains(err.Error(), `node "a"`) {
		t.Errorf("bad memory tag: err = %v", err)
	}
}

func TestReadSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweep.yml")
	os.WriteFile(path, []byte("output_dir: out\nmembers:\n  - name: Base Run\n    params: {a.b: 1}\ngrid:\n  x.lr: [1, 2]\n"), 0o644)
	s, err := ReadSweep(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range s.Members {
		names = append(names, m.Name+"="+s.ParamsArg(m))
	}
	want := "base-run=a.b=1,run_dir=out/base-run lr-1=x.lr=1,run_dir=out/lr-1 lr-2=x.lr=2,run_dir=out/lr-2"
	if strings.Join(names, " ") != want {
		t.Errorf("members %v, want %s", names, want)
	}
	os.WriteFile(path, []byte("member: []\n"), 0o644)
	if _, err := ReadSweep(path); err == nil {
		t.Error("a misspelled key was accepted")
	}
}

func TestAirflowParsesAsPython(t *testing.T) {
	plan, err := NewPlan(testPipeline(), allFiles, Options{Pipeline: "p", GroupBy: ByNode, Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Airflow(&buf, plan, Options{Pipeline: "p", Shards: 3, VolumeClaim: "shared", CredentialsSecret: "creds"}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, frag := range []string{"KubernetesPodOperator(", `"--shard", "2/3"`, "[extract_shard_0, extract_shard_1, extract_shard_2] >> [prep]", "[train] >> [report]", "claim_name=\"shared\"", "secret_name=\"creds\""} {
		if !strings.Contains(s, frag) {
			t.Errorf("DAG lacks %q:\n%s", frag, s)
		}
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3: the DAG's syntax is not checked")
	}
	f := filepath.Join(t.TempDir(), "dag.py")
	os.WriteFile(f, buf.Bytes(), 0o644)
	out, err := exec.Command(py, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", f).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 rejects the DAG: %v\n%s\n%s", err, out, s)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"vilbert_lmdb_train.train_model": "vilbert-lmdb-train-train-model",
		"__default__":                    "default",
		"9lives":                         "t-9lives",
		strings.Repeat("a", 80):          strings.Repeat("a", 63),
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}

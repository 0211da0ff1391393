package export

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// The Argo Workflows resource, as documented for argoproj.io/v1alpha1
// (https://argo-workflows.readthedocs.io/en/latest/fields/): only the
// fields mmc writes. The Argo Go module is not imported.

// ArgoWorkflow is a Workflow or WorkflowTemplate.
type ArgoWorkflow struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Metadata   ArgoMetadata `yaml:"metadata"`
	Spec       ArgoSpec     `yaml:"spec"`
}

// ArgoMetadata is the object metadata.
type ArgoMetadata struct {
	Name         string            `yaml:"name,omitempty"`
	GenerateName string            `yaml:"generateName,omitempty"`
	Namespace    string            `yaml:"namespace,omitempty"`
	Labels       map[string]string `yaml:"labels,omitempty"`
}

// ArgoSpec is the workflow spec.
type ArgoSpec struct {
	Entrypoint string         `yaml:"entrypoint"`
	Volumes    []ArgoVolume   `yaml:"volumes,omitempty"`
	Templates  []ArgoTemplate `yaml:"templates"`
}

// ArgoVolume is a pod volume: a claim or a secret.
type ArgoVolume struct {
	Name                  string            `yaml:"name"`
	PersistentVolumeClaim *ArgoClaimSource  `yaml:"persistentVolumeClaim,omitempty"`
	Secret                *ArgoSecretSource `yaml:"secret,omitempty"`
}

// ArgoClaimSource names a PersistentVolumeClaim.
type ArgoClaimSource struct {
	ClaimName string `yaml:"claimName"`
}

// ArgoSecretSource names a Secret.
type ArgoSecretSource struct {
	SecretName string `yaml:"secretName"`
}

// ArgoVolumeMount mounts a volume (or one key of it) in the container.
type ArgoVolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

// ArgoTemplate is a DAG template or a container template.
type ArgoTemplate struct {
	Name      string         `yaml:"name"`
	Inputs    *ArgoInputs    `yaml:"inputs,omitempty"`
	DAG       *ArgoDAG       `yaml:"dag,omitempty"`
	Container *ArgoContainer `yaml:"container,omitempty"`
}

// ArgoInputs are a template's input parameters.
type ArgoInputs struct {
	Parameters []ArgoParameter `yaml:"parameters"`
}

// ArgoParameter is one named parameter.
type ArgoParameter struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value,omitempty"`
}

// ArgoDAG is a dag template's body.
type ArgoDAG struct {
	Tasks []ArgoTask `yaml:"tasks"`
}

// ArgoTask is one DAG task.
type ArgoTask struct {
	Name         string         `yaml:"name"`
	Template     string         `yaml:"template"`
	Dependencies []string       `yaml:"dependencies,omitempty"`
	WithSequence *ArgoSequence  `yaml:"withSequence,omitempty"`
	Arguments    *ArgoArguments `yaml:"arguments,omitempty"`
}

// ArgoSequence fans a task out over 0..count-1 ({{item}}).
type ArgoSequence struct {
	Count string `yaml:"count"`
}

// ArgoArguments pass parameters to a template.
type ArgoArguments struct {
	Parameters []ArgoParameter `yaml:"parameters"`
}

// ArgoContainer is a container template's container.
type ArgoContainer struct {
	Image        string            `yaml:"image"`
	Command      []string          `yaml:"command"`
	Args         []string          `yaml:"args"`
	Resources    *ArgoResources    `yaml:"resources,omitempty"`
	VolumeMounts []ArgoVolumeMount `yaml:"volumeMounts,omitempty"`
}

// ArgoResources are requests and limits.
type ArgoResources struct {
	Requests map[string]string `yaml:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty"`
}

const (
	argoAPIVersion = "argoproj.io/v1alpha1"
	argoEntrypoint = "main"
	gpuResource    = "nvidia.com/gpu"
)

// Argo builds the workflow of a plan.
func Argo(plan *Plan, o Options) (*ArgoWorkflow, error) {
	o = withDefaults(o)
	w := &ArgoWorkflow{APIVersion: argoAPIVersion, Kind: "Workflow",
		Metadata: ArgoMetadata{Namespace: o.Namespace,
			Labels: map[string]string{"app.kubernetes.io/name": "mmc", "mmc/pipeline": Label(o.Pipeline)}}}
	name := Label("mmc-" + o.Name)
	if o.Template {
		w.Kind = "WorkflowTemplate"
		w.Metadata.Name = name
	} else {
		w.Metadata.GenerateName = name + "-"
	}
	dag := ArgoTemplate{Name: argoEntrypoint, DAG: &ArgoDAG{}}
	var containers []ArgoTemplate
	for _, v := range variants(o) {
		for _, t := range plan.Tasks {
			tn := Label(v.prefix + t.Name)
			task := ArgoTask{Name: tn, Template: tn}
			for _, d := range t.DependsOn {
				task.Dependencies = append(task.Dependencies, Label(v.prefix+d))
			}
			tmpl := ArgoTemplate{Name: tn, Container: &ArgoContainer{Image: o.Image, Command: []string{o.Program}}}
			shard := ""
			if t.Sharded {
				task.WithSequence = &ArgoSequence{Count: strconv.Itoa(o.Shards)}
				task.Arguments = &ArgoArguments{Parameters: []ArgoParameter{{Name: "shard", Value: "{{item}}"}}}
				tmpl.Inputs = &ArgoInputs{Parameters: []ArgoParameter{{Name: "shard"}}}
				shard = fmt.Sprintf("{{inputs.parameters.shard}}/%d", o.Shards)
			}
			tmpl.Container.Args = runArgs(o, t, v, shard)
			tmpl.Container.Resources = argoResources(t.Resources)
			tmpl.Container.VolumeMounts = argoMounts(o)
			dag.DAG.Tasks = append(dag.DAG.Tasks, task)
			containers = append(containers, tmpl)
		}
	}
	w.Spec = ArgoSpec{Entrypoint: argoEntrypoint, Volumes: argoVolumes(o), Templates: append([]ArgoTemplate{dag}, containers...)}
	return w, nil
}

func argoVolumes(o Options) []ArgoVolume {
	var vs []ArgoVolume
	if o.VolumeClaim != "" {
		vs = append(vs, ArgoVolume{Name: "data", PersistentVolumeClaim: &ArgoClaimSource{ClaimName: o.VolumeClaim}})
	}
	if o.CredentialsSecret != "" {
		vs = append(vs, ArgoVolume{Name: "credentials", Secret: &ArgoSecretSource{SecretName: o.CredentialsSecret}})
	}
	return vs
}

func argoMounts(o Options) []ArgoVolumeMount {
	var ms []ArgoVolumeMount
	if o.VolumeClaim != "" {
		ms = append(ms, ArgoVolumeMount{Name: "data", MountPath: DataDir})
	}
	if o.CredentialsSecret != "" {
		ms = append(ms, ArgoVolumeMount{Name: "credentials", MountPath: o.credentialsPath(), SubPath: "credentials.yml", ReadOnly: true})
	}
	return ms
}

// ProgramOrDefault is the command tasks run: Program, or "mmc".
func (o Options) ProgramOrDefault() string { return withDefaults(o).Program }

func withDefaults(o Options) Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Program == "" {
		o.Program = "mmc"
	}
	if o.Name == "" {
		o.Name = o.Pipeline
	}
	if o.GroupBy == "" {
		o.GroupBy = ByMemory
	}
	return o
}

func argoResources(r Resources) *ArgoResources {
	if r == (Resources{}) {
		return nil
	}
	res := &ArgoResources{Requests: map[string]string{}}
	if r.CPU != "" {
		res.Requests["cpu"] = r.CPU
	}
	if r.Memory != "" {
		res.Requests["memory"] = r.Memory
	}
	if r.GPU > 0 {
		g := strconv.Itoa(r.GPU)
		res.Requests[gpuResource] = g
		res.Limits = map[string]string{gpuResource: g} // extended resources need limit == request
	}
	return res
}

// WriteYAML writes the workflow as YAML.
func (w *ArgoWorkflow) WriteYAML(out io.Writer) error {
	b, err := yaml.MarshalWithOptions(w, yaml.IndentSequence(true))
	if err != nil {
		return fmt.Errorf("argo workflow: %w", err)
	}
	_, err = out.Write(b)
	return err
}

// ParseArgo reads a workflow strictly: an unknown field is an error.
func ParseArgo(b []byte) (*ArgoWorkflow, error) {
	var w ArgoWorkflow
	if err := yaml.UnmarshalWithOptions(b, &w, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("argo workflow: %w", err)
	}
	return &w, nil
}

// ValidateArgo parses an exported workflow back and checks it against
// Argo's documented structure and against the plan it came from: the
// entrypoint is a DAG template, every task names an existing template,
// names are DNS-1123 labels and unique, dependencies name tasks of the
// DAG, form no cycle and are exactly the plan's, every container runs
// `run --pipeline P --nodes <the task's nodes>`, and fanned-out tasks
// pass {{item}} to a template that declares the parameter.
func ValidateArgo(b []byte, plan *Plan, o Options) error {
	o = withDefaults(o)
	w, err := ParseArgo(b)
	if err != nil {
		return err
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if w.APIVersion != argoAPIVersion {
		fail("apiVersion %q, want %s", w.APIVersion, argoAPIVersion)
	}
	switch w.Kind {
	case "Workflow":
		if w.Metadata.GenerateName == "" && w.Metadata.Name == "" {
			fail("a Workflow needs metadata.name or metadata.generateName")
		}
	case "WorkflowTemplate":
		if w.Metadata.Name == "" {
			fail("a WorkflowTemplate needs metadata.name")
		}
	default:
		fail("kind %q, want Workflow or WorkflowTemplate", w.Kind)
	}
	templates := map[string]*ArgoTemplate{}
	for i := range w.Spec.Templates {
		t := &w.Spec.Templates[i]
		if !isLabel(t.Name) {
			fail("template name %q is not a DNS-1123 label", t.Name)
		}
		if templates[t.Name] != nil {
			fail("template %q defined twice", t.Name)
		}
		if (t.DAG == nil) == (t.Container == nil) {
			fail("template %q must have exactly one of dag and container", t.Name)
		}
		templates[t.Name] = t
	}
	entry := templates[w.Spec.Entrypoint]
	if entry == nil || entry.DAG == nil {
		return fmt.Errorf("argo workflow: entrypoint %q is not a dag template; %s", w.Spec.Entrypoint, strings.Join(errs, "; "))
	}
	tasks := map[string]*ArgoTask{}
	for i := range entry.DAG.Tasks {
		t := &entry.DAG.Tasks[i]
		if !isLabel(t.Name) {
			fail("task name %q is not a DNS-1123 label", t.Name)
		}
		if tasks[t.Name] != nil {
			fail("task %q given twice", t.Name)
		}
		tasks[t.Name] = t
	}
	// Expected tasks, from the plan.
	want := map[string]Task{}
	var wantVariant = map[string]variant{}
	for _, v := range variants(o) {
		for _, t := range plan.Tasks {
			want[Label(v.prefix+t.Name)] = t
			wantVariant[Label(v.prefix+t.Name)] = v
		}
	}
	if len(want) != len(tasks) {
		fail("%d tasks, want %d", len(tasks), len(want))
	}
	deps := map[string][]string{}
	for name, t := range tasks {
		pt, ok := want[name]
		if !ok {
			fail("task %q is not in the plan", name)
			continue
		}
		v := wantVariant[name]
		var wantDeps []string
		for _, d := range pt.DependsOn {
			wantDeps = append(wantDeps, Label(v.prefix+d))
		}
		got := slices.Sorted(slices.Values(t.Dependencies))
		slices.Sort(wantDeps)
		if !slices.Equal(got, wantDeps) {
			fail("task %q depends on %v, want %v", name, got, wantDeps)
		}
		for _, d := range t.Dependencies {
			if tasks[d] == nil {
				fail("task %q depends on unknown task %q", name, d)
			}
		}
		deps[name] = t.Dependencies
		tmpl := templates[t.Template]
		if tmpl == nil || tmpl.Container == nil {
			fail("task %q uses template %q, which is not a container template", name, t.Template)
			continue
		}
		c := tmpl.Container
		if c.Image == "" {
			fail("template %q has no image", tmpl.Name)
		}
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(w.Spec.Volumes, func(v ArgoVolume) bool { return v.Name == m.Name }) {
				fail("template %q mounts volume %q, which spec.volumes does not declare", tmpl.Name, m.Name)
			}
		}
		wantArgs := runArgs(o, pt, v, "")
		if pt.Sharded {
			wantArgs = runArgs(o, pt, v, fmt.Sprintf("{{inputs.parameters.shard}}/%d", o.Shards))
		}
		if !slices.Equal(c.Args, wantArgs) {
			fail("template %q runs %v, want %v", tmpl.Name, c.Args, wantArgs)
		}
		if pt.Sharded {
			if t.WithSequence == nil || t.WithSequence.Count != strconv.Itoa(o.Shards) {
				fail("sharded task %q needs withSequence count %d", name, o.Shards)
			}
			if t.Arguments == nil || len(t.Arguments.Parameters) != 1 || t.Arguments.Parameters[0].Value != "{{item}}" {
				fail("sharded task %q must pass {{item}} as its shard", name)
			}
			if tmpl.Inputs == nil || len(tmpl.Inputs.Parameters) != 1 || tmpl.Inputs.Parameters[0].Name != "shard" {
				fail("template %q must declare the input parameter shard", tmpl.Name)
			}
		}
	}
	if cyc := stringCycle(deps); cyc != nil {
		fail("dependency cycle: %s", strings.Join(cyc, " → "))
	}
	if len(errs) > 0 {
		return fmt.Errorf("argo workflow:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// isLabel reports whether s is a DNS-1123 label.
func isLabel(s string) bool {
	return s != "" && len(s) <= 63 && Label(s) == s
}

// stringCycle finds a cycle in a dependency map.
func stringCycle(deps map[string][]string) []string {
	ids := map[string]int{}
	var names []string
	for n := range deps {
		ids[n] = len(names)
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		ids[n] = i
	}
	m := map[int]map[int]bool{}
	for n, ds := range deps {
		m[ids[n]] = map[int]bool{}
		for _, d := range ds {
			if j, ok := ids[d]; ok {
				m[ids[n]][j] = true
			}
		}
	}
	cyc := findCycle(m)
	if cyc == nil {
		return nil
	}
	out := make([]string, len(cyc))
	for i, c := range cyc {
		out[i] = names[c]
	}
	return out
}

// ArgoYAML is Argo followed by WriteYAML, into bytes.
func ArgoYAML(plan *Plan, o Options) ([]byte, error) {
	w, err := Argo(plan, o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := w.WriteYAML(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"mmc/atomicfile"
	"mmc/export"
	"mmc/flow"
)

// cmdExport is `export argo|airflow`: write the pipeline as an Argo
// Workflow or an Airflow DAG whose tasks each run `mmc run --nodes …`.
func (a *App) cmdExport(_ context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "argo" && args[0] != "airflow") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(a.Stdout, "Usage: %s export argo|airflow --pipeline P [flags]\n", a.Program)
			return nil
		}
		return usagef("export needs a target: argo or airflow")
	}
	target := args[0]
	fs := a.flagSet("export "+target, "export "+target+" --pipeline P [--group-by none|namespace|memory] [--image IMAGE] [--shards N] [--sweep sweep.yml] [-o FILE]")
	var cf confFlags
	cf.register(fs)
	var pipeline, groupBy, image, sweep, out, name, namespace, program, claim, secret string
	var shards int
	var template bool
	pipelineFlag(fs, &pipeline, flow.DefaultPipeline, "pipeline to export")
	fs.StringVar(&groupBy, "group-by", string(export.ByMemory), "tasks: none (one per node), namespace, or memory (nodes joined by in-memory datasets share a task)")
	fs.StringVar(&image, "image", export.DefaultImage, "container image every task runs in")
	fs.StringVar(&program, "program", "mmc", "the mmc command inside the image")
	fs.IntVar(&shards, "shards", 0, "fan shardable nodes out into this many tasks (run --shard i/N)")
	fs.StringVar(&sweep, "sweep", "", "sweep file: one parallel copy of the pipeline per parameter set")
	fs.StringVar(&out, "o", "", "write to this file instead of stdout")
	fs.StringVar(&name, "name", "", "workflow or DAG name (default: from the pipeline)")
	fs.StringVar(&namespace, "namespace", "", "Kubernetes namespace")
	fs.StringVar(&claim, "volume-claim", "", "PersistentVolumeClaim mounted at "+export.DataDir+" in every task (shared storage for data/ paths)")
	fs.StringVar(&secret, "credentials-secret", "", "Kubernetes secret whose key credentials.yml is mounted as conf/<env>/credentials.yml")
	if target == "argo" {
		fs.BoolVar(&template, "template", false, "write a WorkflowTemplate instead of a Workflow")
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	g, err := export.ParseGroupBy(groupBy)
	if err != nil {
		return usagef("%v", err)
	}
	if shards < 0 {
		return usagef("--shards must not be negative")
	}
	p, err := a.Registry.Pipeline(pipeline)
	if err != nil {
		return err
	}
	_, cat, err := cf.catalog(a.Stderr, a.Formats)
	if err != nil {
		return err
	}
	o := export.Options{Pipeline: pipeline, GroupBy: g, Image: image, Program: program, Shards: shards,
		Params: cf.params, Name: name, Template: template, Namespace: namespace, VolumeClaim: claim, CredentialsSecret: secret}
	if cf.env != "local" {
		o.Env = cf.env
	}
	if sweep != "" {
		if o.Sweep, err = export.ReadSweep(sweep); err != nil {
			return err
		}
	}
	plan, err := export.NewPlan(p, cat, o)
	if err != nil {
		return fmt.Errorf("export %s --pipeline %s: %w", target, pipeline, err)
	}
	if shards > 1 && !slices.ContainsFunc(plan.Tasks, func(t export.Task) bool { return t.Sharded }) {
		fmt.Fprintf(a.Stderr, "warning: --shards %d: no node of pipeline %s is shardable (tagged %q); nothing fans out\n", shards, pipeline, export.ShardableTag)
	}
	var buf bytes.Buffer
	switch target {
	case "argo":
		b, err := export.ArgoYAML(plan, o)
		if err != nil {
			return err
		}
		if err := export.ValidateArgo(b, plan, o); err != nil {
			return fmt.Errorf("export argo: the workflow written does not check out (a bug): %w", err)
		}
		buf.Write(b)
	case "airflow":
		if err := export.Airflow(&buf, plan, o); err != nil {
			return err
		}
	}
	if out == "" {
		_, err = a.Stdout.Write(buf.Bytes())
		return err
	}
	return atomicfile.WriteFile(out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err })
}

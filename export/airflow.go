package export

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Airflow writes an Airflow DAG file: one KubernetesPodOperator per task
// (the cncf.kubernetes provider), dependencies as `a >> b`. A sharded
// task becomes one operator per shard, each downstream of the shard
// task's dependencies and upstream of its dependents.
func Airflow(w io.Writer, plan *Plan, o Options) error {
	o = withDefaults(o)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	dagID := strings.ReplaceAll(Label("mmc-"+o.Name), "-", "_")
	p("# Airflow DAG written by `mmc export airflow --pipeline %s`; regenerate it instead of editing.\n", o.Pipeline)
	p("# Every task runs `%s run --pipeline %s --nodes ...` in the image %s;\n", o.Program, o.Pipeline, o.Image)
	p("# tasks hand data over through the catalog (a bucket or a shared volume).\n")
	p("import pendulum\n\n")
	p("from airflow import DAG\n")
	p("from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n")
	p("from kubernetes.client import models as k8s\n\n")
	p("IMAGE = %s\n", pyStr(o.Image))
	p("NAMESPACE = %s\n", pyStr(orDefault(o.Namespace, "default")))
	p("VOLUMES = [\n")
	if o.VolumeClaim != "" {
		p("    k8s.V1Volume(name=\"data\", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=%s)),\n", pyStr(o.VolumeClaim))
	}
	if o.CredentialsSecret != "" {
		p("    k8s.V1Volume(name=\"credentials\", secret=k8s.V1SecretVolumeSource(secret_name=%s)),\n", pyStr(o.CredentialsSecret))
	}
	p("]\nVOLUME_MOUNTS = [\n")
	if o.VolumeClaim != "" {
		p("    k8s.V1VolumeMount(name=\"data\", mount_path=%s),\n", pyStr(DataDir))
	}
	if o.CredentialsSecret != "" {
		p("    k8s.V1VolumeMount(name=\"credentials\", mount_path=%s, sub_path=\"credentials.yml\", read_only=True),\n", pyStr(o.credentialsPath()))
	}
	p("]\n\n")
	p("\ndef mmc_task(task_id, arguments, requests=None, limits=None):\n")
	p("    return KubernetesPodOperator(\n")
	p("        task_id=task_id,\n")
	p("        name=task_id.replace(\"_\", \"-\"),\n")
	p("        namespace=NAMESPACE,\n")
	p("        image=IMAGE,\n")
	p("        cmds=[%s],\n", pyStr(o.Program))
	p("        arguments=arguments,\n")
	p("        container_resources=k8s.V1ResourceRequirements(requests=requests, limits=limits),\n")
	p("        volumes=VOLUMES,\n")
	p("        volume_mounts=VOLUME_MOUNTS,\n")
	p("        get_logs=True,\n")
	p("    )\n\n\n")
	p("with DAG(\n")
	p("    dag_id=%s,\n", pyStr(dagID))
	p("    schedule=None,\n")
	p("    start_date=pendulum.datetime(2024, 1, 1, tz=\"UTC\"),\n")
	p("    catchup=False,\n")
	p("    tags=[\"mmc\", %s],\n", pyStr(o.Pipeline))
	p(") as dag:\n")
	// ids[task name] are the Python variables of its operators (several
	// for a sharded task).
	for _, v := range variants(o) {
		ids := map[string][]string{}
		for _, t := range plan.Tasks {
			base := pyIdent(v.prefix + t.Name)
			shards := 1
			if t.Sharded {
				shards = o.Shards
			}
			for s := range shards {
				id := base
				expr := ""
				if t.Sharded {
					id = fmt.Sprintf("%s_shard_%d", base, s)
					expr = fmt.Sprintf("%d/%d", s, o.Shards)
				}
				ids[t.Name] = append(ids[t.Name], id)
				p("    %s = mmc_task(\n", id)
				p("        %s,\n", pyStr(id))
				p("        %s,\n", pyList(runArgs(o, t, v, expr)))
				if req, lim := pyResources(t.Resources); req != "" {
					p("        requests=%s,\n", req)
					if lim != "" {
						p("        limits=%s,\n", lim)
					}
				}
				p("    )\n")
			}
		}
		for _, t := range plan.Tasks {
			for _, d := range t.DependsOn {
				p("    %s >> %s\n", varList(ids[d]), varList(ids[t.Name]))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pyStr is a Python string literal (strconv.Quote's escapes are a
// subset of Python's for printable text).
func pyStr(s string) string { return strconv.Quote(s) }

// varList is a Python list of variables.
func varList(ids []string) string { return "[" + strings.Join(ids, ", ") + "]" }

// pyList is a Python list of string literals.
func pyList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = pyStr(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func pyIdent(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || (id[0] >= '0' && id[0] <= '9') {
		id = "t_" + id
	}
	return id
}

func pyResources(r Resources) (req, lim string) {
	var parts []string
	if r.CPU != "" {
		parts = append(parts, fmt.Sprintf("%q: %q", "cpu", r.CPU))
	}
	if r.Memory != "" {
		parts = append(parts, fmt.Sprintf("%q: %q", "memory", r.Memory))
	}
	if r.GPU > 0 {
		g := fmt.Sprintf("%q: %q", gpuResource, strconv.Itoa(r.GPU))
		parts = append(parts, g)
		lim = "{" + g + "}"
	}
	if len(parts) == 0 {
		return "", ""
	}
	return "{" + strings.Join(parts, ", ") + "}", lim
}

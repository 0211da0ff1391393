package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"mmc/runs"
)

// cmdMetrics is `metrics list` and `metrics diff [RUN_A RUN_B]`: the runs
// recorded under .mmc/runs of the project, and two of them side by side
// (parameters that differ, metrics, training history).
func (a *App) cmdMetrics(_ context.Context, args []string) error {
	fs := a.flagSet("metrics", "metrics list | metrics diff [RUN_A RUN_B]")
	confSource := fs.String("conf-source", "conf", "configuration directory (runs live in .mmc/runs beside it)")
	all := fs.Bool("all", false, "list: every run, not only those that kept metrics")
	// Flags may come before, between or after the words.
	var words []string
	for {
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	root := (&confFlags{confSource: *confSource}).root()
	rs, err := runs.List(root)
	if err != nil {
		return err
	}
	sub := ""
	if len(words) > 0 {
		sub = words[0]
	}
	switch sub {
	case "list", "":
		if len(words) > 1 {
			return usagef("metrics list takes no arguments")
		}
		return a.metricsList(rs, *all, root)
	case "diff":
		var ra, rb *runs.Run
		switch len(words) {
		case 1:
			withMetrics := runsWithMetrics(rs)
			if len(withMetrics) < 2 {
				return fmt.Errorf("metrics diff: %d recorded run(s) kept metrics under %s; run a training pipeline twice, or name two runs (metrics list --all)", len(withMetrics), runs.Dir(root))
			}
			ra, rb = withMetrics[len(withMetrics)-2], withMetrics[len(withMetrics)-1]
		case 3:
			if ra, err = findRun(rs, words[1], root); err != nil {
				return err
			}
			if rb, err = findRun(rs, words[2], root); err != nil {
				return err
			}
		default:
			return usagef("metrics diff takes no run or two runs")
		}
		return a.metricsDiff(root, ra, rb)
	default:
		return usagef("metrics: unknown subcommand %q (want list or diff)", sub)
	}
}

func runsWithMetrics(rs []*runs.Run) []*runs.Run {
	var out []*runs.Run
	for _, r := range rs {
		if len(r.Metrics) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// findRun accepts a run id or a unique prefix of one.
func findRun(rs []*runs.Run, id, root string) (*runs.Run, error) {
	var hits []*runs.Run
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
		if strings.HasPrefix(r.ID, id) {
			hits = append(hits, r)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return nil, fmt.Errorf("no run %q under %s: `metrics list --all` shows the runs", id, runs.Dir(root))
	}
	return nil, fmt.Errorf("run %q is ambiguous: %d runs start with it", id, len(hits))
}

func (a *App) metricsList(rs []*runs.Run, all bool, root string) error {
	if !all {
		rs = runsWithMetrics(rs)
	}
	if len(rs) == 0 {
		what := "kept metrics"
		if all {
			what = "were recorded"
		}
		fmt.Fprintf(a.Stdout, "no runs %s under %s\n", what, runs.Dir(root))
		return nil
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tPIPELINES\tTOOK\tRAN/SKIPPED\tMETRICS")
	for _, r := range rs {
		took := "-"
		if !r.End.IsZero() {
			took = r.End.Sub(r.Start).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", r.ID, r.Status, strings.Join(r.Pipelines, "+"), took,
			len(r.Ran), len(r.Skipped), headlineMetrics(r))
	}
	return tw.Flush()
}

// headlineMetrics is "auroc=0.81 accuracy=0.75" of a run's first
// metrics dataset.
func headlineMetrics(r *runs.Run) string {
	var parts []string
	for _, ds := range sortedKeys(r.Metrics) {
		m := r.Metrics[ds]
		for _, k := range []string{"auroc", "accuracy", "f1", "loss"} {
			if v, ok := m[k].(float64); ok {
				parts = append(parts, fmt.Sprintf("%s=%.4g", k, v))
			}
		}
		break
	}
	return strings.Join(parts, " ")
}

func (a *App) metricsDiff(root string, ra, rb *runs.Run) error {
	w := a.Stdout
	for _, x := range []struct {
		label string
		r     *runs.Run
	}{{"A", ra}, {"B", rb}} {
		fmt.Fprintf(w, "%s: %s  %s  %s  %s\n", x.label, x.r.ID, strings.Join(x.r.Pipelines, "+"), x.r.Status, x.r.Start.Local().Format(time.DateTime))
	}

	fmt.Fprintln(w, "\nparameters that differ:")
	pa, pb := map[string]string{}, map[string]string{}
	for k, v := range ra.Params {
		flattenJSON(k, v, pa)
	}
	for k, v := range rb.Params {
		flattenJSON(k, v, pb)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PARAMETER\tA\tB")
	diffs := 0
	for _, k := range unionKeys(pa, pb) {
		va, oka := pa[k]
		vb, okb := pb[k]
		if oka && okb && va == vb {
			continue
		}
		if !oka {
			va = "(absent)"
		}
		if !okb {
			vb = "(absent)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", k, va, vb)
		diffs++
	}
	tw.Flush()
	if diffs == 0 {
		fmt.Fprintln(w, "  (none)")
	}

	fmt.Fprintln(w, "\nmetrics:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tA\tB\tB-A")
	ma, mb := map[string]any{}, map[string]any{}
	for ds, m := range ra.Metrics {
		for k, v := range m {
			ma[ds+"."+k] = v
		}
	}
	for ds, m := range rb.Metrics {
		for k, v := range m {
			mb[ds+"."+k] = v
		}
	}
	for _, k := range unionKeys(ma, mb) {
		fa, oka := ma[k].(float64)
		fb, okb := mb[k].(float64)
		delta := ""
		if oka && okb {
			delta = fmt.Sprintf("%+.4g", fb-fa)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k, showValue(ma[k]), showValue(mb[k]), delta)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nhistory:")
	ha, hb := histories(root, ra), histories(root, rb)
	if len(ha) == 0 && len(hb) == 0 {
		fmt.Fprintln(w, "  (no training history kept)")
	}
	for _, ds := range unionKeys(ha, hb) {
		fmt.Fprintf(w, "  %s\n    A: %s\n    B: %s\n", ds, orNone(ha[ds]), orNone(hb[ds]))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func showValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case float64:
		return fmt.Sprintf("%.4g", v)
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// histories summarises each kept training history of a run: epochs,
// the best epoch and the last epoch's numbers.
func histories(root string, r *runs.Run) map[string]string {
	out := map[string]string{}
	for _, art := range r.Artifacts {
		if art.Kind != "history" {
			continue
		}
		f, err := os.Open(filepath.Join(runs.Dir(root), r.ID, filepath.FromSlash(art.File)))
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(f, 8<<20))
		f.Close()
		if err != nil {
			continue
		}
		out[art.Dataset] = summariseHistory(b)
	}
	return out
}

// summariseHistory reads {"epochs": [{...}, ...], "best_epoch": …} (or
// such an object under one key) without knowing the training code.
func summariseHistory(b []byte) string {
	var top map[string]any
	if json.Unmarshal(b, &top) != nil {
		return "unreadable"
	}
	epochs, ok := top["epochs"].([]any)
	if !ok {
		for _, k := range sortedKeys(top) {
			if m, isMap := top[k].(map[string]any); isMap {
				if e, has := m["epochs"].([]any); has {
					top, epochs, ok = m, e, true
					break
				}
			}
		}
	}
	if !ok {
		return fmt.Sprintf("%d keys, no epochs", len(top))
	}
	parts := []string{fmt.Sprintf("%d epochs", len(epochs))}
	for _, k := range sortedKeys(top) {
		switch v := top[k].(type) {
		case float64:
			parts = append(parts, fmt.Sprintf("%s=%.4g", k, v))
		case string:
			if v != "" {
				parts = append(parts, fmt.Sprintf("%s=%q", k, v))
			}
		}
	}
	if len(epochs) > 0 {
		if last, ok := epochs[len(epochs)-1].(map[string]any); ok {
			var lp []string
			for _, k := range []string{"train_loss", "val_loss", "val_auroc", "val_accuracy", "lr"} {
				if v, ok := last[k].(float64); ok {
					lp = append(lp, fmt.Sprintf("%s=%.4g", k, v))
				}
			}
			if len(lp) > 0 {
				parts = append(parts, "last: "+strings.Join(lp, " "))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// flattenJSON flattens a decoded value into dotted leaf → JSON text.
func flattenJSON(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		for k, x := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenJSON(p, x, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return sortedKeys(seen)
}

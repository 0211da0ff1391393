package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"mmc/runs"
	"mmc/viz"
)

// vizRuns shows the runs recorded under a project root (runs.Dir) to the
// viz: run.json for the summary, events.jsonl for each node's fate (read
// again on every request, so a live run's page follows it), and the kept
// metrics and history for the compare page.
type vizRuns struct{ root string }

func vizStatus(s runs.Status) string {
	switch s {
	case runs.OK:
		return "completed"
	case runs.Running:
		return "running"
	}
	return "failed"
}

func (v vizRuns) info(r *runs.Run) viz.RunInfo {
	return viz.RunInfo{ID: r.ID, Pipeline: strings.Join(r.Pipelines, "+"), Runner: r.Runner,
		Status: vizStatus(r.Status), Start: r.Start, End: r.End, Error: r.Error}
}

// Runs lists the recorded runs, newest first.
func (v vizRuns) Runs() ([]viz.RunInfo, error) {
	rs, err := runs.List(v.root)
	if err != nil {
		return nil, fmt.Errorf("runs under %s: %w", runs.Dir(v.root), err)
	}
	out := make([]viz.RunInfo, 0, len(rs))
	for _, r := range slices.Backward(rs) {
		out = append(out, v.info(r))
	}
	return out, nil
}

// Run reads one run: its summary, then its events in order.
func (v vizRuns) Run(id string) (viz.RunDetail, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return viz.RunDetail{}, fmt.Errorf("run id %q: %w", id, fs.ErrNotExist)
	}
	if _, err := os.Stat(filepath.Join(runs.Dir(v.root), id, runs.RunFile)); err != nil {
		return viz.RunDetail{}, fmt.Errorf("run %q: %w", id, fs.ErrNotExist)
	}
	r, err := runs.Load(v.root, id)
	if err != nil {
		return viz.RunDetail{}, err
	}
	d := viz.RunDetail{RunInfo: v.info(r), Nodes: map[string]viz.NodeRun{}, Datasets: map[string]viz.DatasetRun{}, Params: r.Params}
	events, err := runs.ReadEvents(v.root, id)
	if err != nil && !os.IsNotExist(err) {
		return viz.RunDetail{}, fmt.Errorf("run %q: %w", id, err)
	}
	nodes, datasets := runs.States(events)
	for name, n := range nodes {
		nr := viz.NodeRun{Status: n.Status, Reason: n.Reason, Error: n.Error, Seconds: n.Seconds}
		switch {
		case n.Status == "done":
			nr.Status = "completed"
		case n.Status == "running" && d.Status == "running":
			// Still going: how long so far.
			nr.Seconds = runs.Seconds(time.Since(n.Start))
		case n.Status == "running":
			nr.Status, nr.Error = "failed", "the run ended before this node finished"
		}
		// A node's wall time, loads and saves included (the events'
		// Seconds count the function alone).
		if !n.Start.IsZero() && n.End.After(n.Start) {
			nr.Seconds = runs.Seconds(n.End.Sub(n.Start))
		}
		d.Nodes[name] = nr
	}
	for name, ds := range datasets {
		d.Datasets[name] = viz.DatasetRun{Loaded: !ds.Saved, Saved: ds.Saved, Size: ds.Bytes, Seconds: ds.Seconds}
	}
	d.Metrics = flatMetrics(r.Metrics)
	d.History = v.history(r)
	return d, nil
}

// flatMetrics turns the kept metrics files into one table of numbers:
// "auroc" when one file was kept, "test_metrics.auroc" when several.
func flatMetrics(m map[string]map[string]any) map[string]float64 {
	out := map[string]float64{}
	for ds, vals := range m {
		prefix := ""
		if len(m) > 1 {
			prefix = ds[strings.LastIndexByte(ds, '.')+1:] + "."
		}
		flatNumbers(prefix, vals, out)
	}
	return out
}

func flatNumbers(prefix string, v any, out map[string]float64) {
	switch v := v.(type) {
	case float64:
		out[strings.TrimSuffix(prefix, ".")] = v
	case map[string]any:
		for k, x := range v {
			flatNumbers(prefix+k+".", x, out)
		}
	}
}

// history reads the training curves a run kept.
func (v vizRuns) history(r *runs.Run) map[string][]float64 {
	out := map[string][]float64{}
	var kept []runs.Artifact
	for _, a := range r.Artifacts {
		if a.Kind == "history" {
			kept = append(kept, a)
		}
	}
	for _, a := range kept {
		b, err := os.ReadFile(filepath.Join(runs.Dir(v.root), r.ID, filepath.FromSlash(a.File)))
		if err != nil {
			continue
		}
		var val any
		if json.Unmarshal(b, &val) != nil {
			continue
		}
		prefix := ""
		if len(kept) > 1 {
			prefix = a.Dataset[strings.LastIndexByte(a.Dataset, '.')+1:] + "."
		}
		for k, s := range viz.HistorySeries(val) {
			out[prefix+k] = s
		}
	}
	return out
}

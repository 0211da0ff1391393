// Package runs records what each pipeline run did, for the viz and for
// `metrics`: every run gets an id and a folder .mmc/runs/<id>/ under the
// project root holding
//
//   - events.jsonl: one Event per line, appended while the run goes
//     (pipeline start/end, node start/end/skip/error, dataset load/save);
//     a reader of a live run sees whole lines only, and may see a last
//     line cut short, which ReadEvents ignores;
//   - run.json: the Run (pipelines, resolved parameters, status, times,
//     kept metrics), rewritten atomically at the start and at the end;
//   - artifacts/: copies of the run's small outputs that describe a
//     training run (metrics and history JSON, plots), so later runs do
//     not overwrite them.
//
// The types here are the stable format: the viz reads them.
package runs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mmc/atomicfile"
)

// Kind is the kind of an event.
type Kind string

// The event kinds.
const (
	PipelineStart Kind = "pipeline_start" // Run, Pipelines, Nodes
	PipelineEnd   Kind = "pipeline_end"   // Status, Error, Node (the failed one), Seconds
	NodeStart     Kind = "node_start"     // Node, Reason (why it runs); comes before the node's loads
	NodeEnd       Kind = "node_end"       // Node, Seconds (the function alone)
	NodeSkip      Kind = "node_skip"      // Node, Reason
	NodeError     Kind = "node_error"     // Node, Error
	DatasetLoad   Kind = "dataset_load"   // Dataset, Node, Bytes, Seconds
	DatasetSave   Kind = "dataset_save"   // Dataset, Node, Bytes, Seconds
)

// Status is where a run stands.
type Status string

// The run statuses.
const (
	Running   Status = "running"
	OK        Status = "ok"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
)

// Event is one line of events.jsonl. Fields a kind does not use are
// omitted. Bytes is the size on disk of a persisted dataset (absent for
// in-memory data and parameters).
type Event struct {
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	Run       string    `json:"run,omitempty"`
	Pipelines []string  `json:"pipelines,omitempty"`
	Nodes     int       `json:"nodes,omitempty"`
	Node      string    `json:"node,omitempty"`
	Dataset   string    `json:"dataset,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
	Status    Status    `json:"status,omitempty"`
	Bytes     int64     `json:"bytes,omitempty"`
	Seconds   float64   `json:"seconds,omitempty"`
}

// Artifact is a file kept with a run, relative to the run's folder.
type Artifact struct {
	Dataset string `json:"dataset"`
	Kind    string `json:"kind"` // "metrics", "history", "plot" or "json"
	File    string `json:"file"` // e.g. artifacts/vilbert_synthetic_train.test_metrics.json
	Source  string `json:"source"`
}

// Run is run.json: what a run was asked to do and how it ended.
type Run struct {
	ID        string   `json:"id"`
	Pipelines []string `json:"pipelines"`
	Env       string   `json:"env,omitempty"`
	Runner    string   `json:"runner,omitempty"`
	// Args is the command line after "run", to repeat or resume the run.
	Args []string `json:"args,omitempty"`
	// Params are the resolved parameters the pipeline reads, by key
	// ("train", "model" …; "" for the whole tree).
	Params map[string]any `json:"params,omitempty"`
	Status Status         `json:"status"`
	Start  time.Time      `json:"start"`
	End    time.Time      `json:"end,omitzero"`
	Nodes  int            `json:"nodes"`
	// Ran, Skipped and Failed name nodes; NotRun the nodes that neither
	// ran nor were skipped (left by a failure or a cancellation).
	Ran     []string `json:"ran,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	NotRun  []string `json:"not_run,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Metrics are the kept metrics files, parsed, by dataset name.
	Metrics   map[string]map[string]any `json:"metrics,omitempty"`
	Artifacts []Artifact                `json:"artifacts,omitempty"`
}

// Dir is where runs live under a project root: <root>/.mmc/runs.
func Dir(root string) string { return filepath.Join(root, ".mmc", "runs") }

// EventsFile and RunFile name a run's files inside its folder.
const (
	EventsFile = "events.jsonl"
	RunFile    = "run.json"
)

// Seconds is d in seconds, rounded to the microsecond.
func Seconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }

// Load reads run.json of run id.
func Load(root, id string) (*Run, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil, fmt.Errorf("run id %q is not a run id", id)
	}
	path := filepath.Join(Dir(root), id, RunFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no run %q (looked for %s): `metrics list` shows the runs", id, path)
		}
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// List reads every run under root, oldest first (run ids sort by time).
// Folders without a readable run.json are left out.
func List(root string) ([]*Run, error) {
	ents, err := os.ReadDir(Dir(root))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Run
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		r, err := Load(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ReadEvents reads a run's events. A last line without its newline (a
// live run writing it) is ignored; a malformed complete line is an error
// naming the file and line.
func ReadEvents(root, id string) ([]Event, error) {
	path := filepath.Join(Dir(root), id, EventsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeEvents(f, path)
}

// DecodeEvents reads events.jsonl content from r (name is for errors).
func DecodeEvents(r io.Reader, name string) ([]Event, error) {
	br := bufio.NewReader(r)
	var out []Event
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil // a partial last line, if any, is still being written
		}
		if err != nil {
			return out, err
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return out, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, e)
	}
}

// writeRun saves run.json atomically.
func writeRun(dir string, r *Run) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("run %s: encode run.json: %w", r.ID, err)
	}
	return atomicfile.WriteBytes(filepath.Join(dir, RunFile), append(b, '\n'))
}

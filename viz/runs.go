package viz

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"time"
)

// RunStore is where the viewer reads runs from (the runner's event
// files); the caller adapts its store to it.
type RunStore interface {
	// Runs lists the runs, newest first.
	Runs() ([]RunInfo, error)
	// Run reads one run as it stands (a live run is read again on every
	// call); an unknown id gives an error wrapping fs.ErrNotExist.
	Run(id string) (RunDetail, error)
}

// RunInfo summarises a run.
type RunInfo struct {
	ID       string `json:"id"`
	Pipeline string `json:"pipeline"`
	Runner   string `json:"runner,omitempty"`
	// Status is "running", "completed" or "failed".
	Status string    `json:"status"`
	Start  time.Time `json:"start,omitzero"`
	End    time.Time `json:"end,omitzero"`
	Error  string    `json:"error,omitempty"`
}

// RunDetail is a run with its nodes, datasets and results.
type RunDetail struct {
	RunInfo
	// Nodes by full node name.
	Nodes map[string]NodeRun `json:"nodes"`
	// Datasets by name: what the run loaded and saved.
	Datasets map[string]DatasetRun `json:"datasets"`
	// Params are the resolved parameters the run used, by dotted key.
	Params map[string]any `json:"params,omitempty"`
	// Metrics are the run's final numbers ("test.auroc").
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// History is the training curves, one series per quantity, by epoch.
	History map[string][]float64 `json:"history,omitempty"`
}

// NodeRun is one node's fate in a run.
type NodeRun struct {
	// Status is "pending", "running", "completed", "skipped" or "failed".
	Status string `json:"status"`
	// Seconds the node took (so far, while running).
	Seconds float64 `json:"seconds,omitempty"`
	// Reason a node was skipped or re-run.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// DatasetRun is what a run did with a dataset.
type DatasetRun struct {
	Loaded  bool    `json:"loaded,omitempty"`
	Saved   bool    `json:"saved,omitempty"`
	Size    int64   `json:"size,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

func (s *Server) serveRuns(w http.ResponseWriter, req *http.Request) {
	if s.opt.Runs == nil {
		writeJSON(w, []RunInfo{})
		return
	}
	runs, err := s.opt.Runs.Runs()
	if err != nil {
		http.Error(w, fmt.Sprintf("listing runs: %v", err), http.StatusInternalServerError)
		return
	}
	if runs == nil {
		runs = []RunInfo{}
	}
	writeJSON(w, runs)
}

func (s *Server) serveRun(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	if s.opt.Runs == nil {
		http.Error(w, "this viewer has no runs", http.StatusNotFound)
		return
	}
	run, err := s.opt.Runs.Run(id)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, fmt.Sprintf("no run %q", id), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("run %q: %v", id, err), http.StatusInternalServerError)
		return
	}
	if run.Nodes == nil {
		run.Nodes = map[string]NodeRun{}
	}
	if run.Datasets == nil {
		run.Datasets = map[string]DatasetRun{}
	}
	writeJSON(w, run)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

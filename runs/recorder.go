package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mmc/atomicfile"
	"mmc/flow"
)

// Recorder writes one run's folder: events as they happen, run.json at
// the start and the end, and copies of the run's metrics, history and
// plots. Its Hooks feed it from flow.Run. Safe for concurrent use.
type Recorder struct {
	root, dir string
	locate    func(dataset string) string

	mu      sync.Mutex
	f       *os.File
	run     Run
	reasons map[string]string
	started map[string]bool
	werr    error
}

// Start creates the folder of a new run under root (.mmc/runs/<run.ID>;
// a numeric suffix is added when that id is taken) and writes run.json
// with status running. locate maps a dataset to the local file or folder
// that holds it ("" for in-memory data), for sizes and kept artifacts;
// it may be nil.
func Start(root string, run Run, locate func(dataset string) string) (*Recorder, error) {
	if run.ID == "" {
		run.ID = time.Now().UTC().Format("2006-01-02T15.04.05.000Z")
	}
	base := Dir(root)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("create runs folder: %w", err)
	}
	id := run.ID
	for i := 2; ; i++ {
		err := os.Mkdir(filepath.Join(base, id), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i > 1000 {
			return nil, fmt.Errorf("create run folder %s: %w", filepath.Join(base, id), err)
		}
		id = run.ID + "-" + strconv.Itoa(i)
	}
	run.ID = id
	run.Status = Running
	if run.Start.IsZero() {
		run.Start = time.Now().UTC()
	}
	dir := filepath.Join(base, id)
	f, err := os.OpenFile(filepath.Join(dir, EventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create events file: %w", err)
	}
	r := &Recorder{root: root, dir: dir, locate: locate, f: f, run: run, reasons: map[string]string{}, started: map[string]bool{}}
	if err := writeRun(dir, &r.run); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// ID is the run's id; Dir its folder.
func (r *Recorder) ID() string  { return r.run.ID }
func (r *Recorder) Dir() string { return r.dir }

// Emit appends one event (stamped now when e.Time is zero) as one write,
// so a reader never sees half a line but at the very end.
func (r *Recorder) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return
	}
	if _, err := r.f.Write(append(b, '\n')); err != nil && r.werr == nil {
		r.werr = err
	}
}

// size is the bytes on disk of a persisted dataset (0 when unknown).
func (r *Recorder) size(dataset string) int64 {
	if r.locate == nil {
		return 0
	}
	path := r.locate(dataset)
	if path == "" {
		return 0
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size()
	}
	var total int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// Hooks are the flow hooks that feed the recorder.
func (r *Recorder) Hooks() flow.Hooks {
	return flow.Hooks{
		BeforePipelineRun: func(_ context.Context, info flow.RunInfo, p *flow.Pipeline) {
			r.Emit(Event{Kind: PipelineStart, Run: r.run.ID, Pipelines: info.Pipelines, Nodes: p.Len()})
		},
		OnPlan: func(_ context.Context, plan []flow.Decision) {
			r.mu.Lock()
			for _, d := range plan {
				r.reasons[d.Node] = d.Reason
			}
			r.mu.Unlock()
		},
		OnNodeSkipped: func(_ context.Context, n *flow.Node, reason string) {
			r.mu.Lock()
			r.run.Skipped = append(r.run.Skipped, n.Name())
			r.mu.Unlock()
			r.Emit(Event{Kind: NodeSkip, Node: n.Name(), Reason: reason})
		},
		// A node starts at its first input load (or at the call when it
		// reads nothing), so a live view shows it while it loads.
		BeforeDatasetLoaded: func(_ context.Context, _ string, n *flow.Node) { r.nodeStart(n) },
		BeforeNodeRun:       func(_ context.Context, n *flow.Node, _ map[string]any) { r.nodeStart(n) },
		AfterNodeRun: func(_ context.Context, n *flow.Node, _, _ map[string]any, took time.Duration) {
			r.Emit(Event{Kind: NodeEnd, Node: n.Name(), Seconds: Seconds(took)})
		},
		OnNodeError: func(_ context.Context, n *flow.Node, _ map[string]any, err error) {
			r.Emit(Event{Kind: NodeError, Node: n.Name(), Error: err.Error()})
		},
		AfterDatasetLoaded: func(_ context.Context, ds string, _ any, n *flow.Node, took time.Duration) {
			r.Emit(Event{Kind: DatasetLoad, Dataset: ds, Node: n.Name(), Bytes: r.size(ds), Seconds: Seconds(took)})
		},
		AfterDatasetSaved: func(_ context.Context, ds string, _ any, n *flow.Node, took time.Duration) {
			r.Emit(Event{Kind: DatasetSave, Dataset: ds, Node: n.Name(), Bytes: r.size(ds), Seconds: Seconds(took)})
			r.keep(ds)
		},
	}
}

func (r *Recorder) nodeStart(n *flow.Node) {
	r.mu.Lock()
	if r.started[n.Name()] {
		r.mu.Unlock()
		return
	}
	r.started[n.Name()] = true
	why := r.reasons[n.Name()]
	r.mu.Unlock()
	r.Emit(Event{Kind: NodeStart, Node: n.Name(), Reason: why})
}

// artifactKind says whether a saved dataset is kept with the run.
func artifactKind(dataset, path string, size int64) string {
	ext := strings.ToLower(filepath.Ext(path))
	name := strings.ToLower(dataset)
	switch {
	case ext == ".json" && size <= 4<<20 && strings.Contains(name, "metrics"):
		return "metrics"
	case ext == ".json" && size <= 4<<20 && strings.Contains(name, "history"):
		return "history"
	case ext == ".png" && size <= 8<<20:
		return "plot"
	}
	return ""
}

// keep copies a saved metrics, history or plot file into the run folder.
func (r *Recorder) keep(dataset string) {
	if r.locate == nil {
		return
	}
	path := r.locate(dataset)
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return
	}
	kind := artifactKind(dataset, path, st.Size())
	if kind == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	rel := filepath.Join("artifacts", dataset+filepath.Ext(path))
	if err := atomicfile.WriteBytes(filepath.Join(r.dir, rel), b); err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run.Artifacts = append(r.run.Artifacts, Artifact{Dataset: dataset, Kind: kind, File: filepath.ToSlash(rel), Source: path})
	if kind == "metrics" {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			if r.run.Metrics == nil {
				r.run.Metrics = map[string]map[string]any{}
			}
			r.run.Metrics[dataset] = m
		}
	}
}

// Finish records how the run ended (res and err as flow.Run returned
// them), appends pipeline_end and rewrites run.json.
func (r *Recorder) Finish(res *flow.Result, err error) error {
	r.mu.Lock()
	run := &r.run
	run.End = time.Now().UTC()
	run.Status = OK
	if res != nil {
		run.Ran = res.Ran
		run.Failed = res.Failed
	}
	var failedNode string
	if err != nil {
		run.Status = Failed
		run.Error = err.Error()
		var re *flow.RunError
		if errors.As(err, &re) {
			failedNode = re.Node
			run.NotRun = re.NotRun
			// The descendants of a failed node (--keep-going) are
			// reported skipped but did not run.
			notRun := map[string]bool{}
			for _, n := range re.NotRun {
				notRun[n] = true
			}
			run.Skipped = slices.DeleteFunc(run.Skipped, func(n string) bool { return notRun[n] })
			if re.Node == "" {
				run.Status = Cancelled
			}
		} else if errors.Is(err, context.Canceled) {
			run.Status = Cancelled
		}
	}
	end := Event{Kind: PipelineEnd, Run: run.ID, Status: run.Status, Error: run.Error, Node: failedNode,
		Seconds: Seconds(run.End.Sub(run.Start))}
	r.mu.Unlock()
	r.Emit(end)
	r.mu.Lock()
	defer r.mu.Unlock()
	werr := writeRun(r.dir, run)
	if r.f != nil {
		if cerr := r.f.Close(); werr == nil && r.werr == nil {
			werr = cerr
		}
		r.f = nil
	}
	if werr == nil {
		werr = r.werr
	}
	return werr
}

// Run is a copy of the run record as it stands.
func (r *Recorder) Run() Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run
}

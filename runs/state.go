package runs

import "time"

// NodeState is what a run's events say about one node.
type NodeState struct {
	Status  string    `json:"status"` // "running", "done", "skipped" or "failed"
	Reason  string    `json:"reason,omitempty"`
	Error   string    `json:"error,omitempty"`
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Seconds float64   `json:"seconds,omitempty"` // the function alone
}

// DatasetState is the last load or save of a dataset in a run.
type DatasetState struct {
	Saved   bool      `json:"saved"` // false: only loaded
	Bytes   int64     `json:"bytes,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
	Time    time.Time `json:"time"`
}

// States folds a run's events into the state of every node and dataset
// they mention (a live run's nodes may still be "running").
func States(events []Event) (nodes map[string]NodeState, datasets map[string]DatasetState) {
	nodes, datasets = map[string]NodeState{}, map[string]DatasetState{}
	for _, e := range events {
		switch e.Kind {
		case NodeStart:
			nodes[e.Node] = NodeState{Status: "running", Reason: e.Reason, Start: e.Time}
		case NodeEnd:
			s := nodes[e.Node]
			s.Status, s.End, s.Seconds = "done", e.Time, e.Seconds
			nodes[e.Node] = s
		case NodeSkip:
			nodes[e.Node] = NodeState{Status: "skipped", Reason: e.Reason, End: e.Time}
		case NodeError:
			s := nodes[e.Node]
			s.Status, s.Error, s.End = "failed", e.Error, e.Time
			nodes[e.Node] = s
		case DatasetLoad, DatasetSave:
			d := datasets[e.Dataset]
			if e.Kind == DatasetSave {
				d.Saved = true
			}
			d.Bytes, d.Seconds, d.Time = e.Bytes, e.Seconds, e.Time
			datasets[e.Dataset] = d
		}
	}
	return nodes, datasets
}

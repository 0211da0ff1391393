package flow

import (
	"context"
	"time"
)

// RunInfo describes a run to pipeline hooks (Kedro's run_params).
type RunInfo struct {
	RunID              string
	Pipelines          []string
	Env                string
	Filter             Filter
	Runner             string
	MaxWorkers         int
	OnlyMissingOutputs bool
	LoadVersions       map[string]string
	RuntimeParams      map[string]any
}

// Hooks are callbacks at Kedro's hook points. Any field may be nil. The
// runner calls hooks one at a time even with parallel workers, so a hook
// needs no locking of its own; hooks should return quickly.
type Hooks struct {
	BeforePipelineRun func(ctx context.Context, info RunInfo, p *Pipeline)
	AfterPipelineRun  func(ctx context.Context, info RunInfo, p *Pipeline, res *Result)
	OnPipelineError   func(ctx context.Context, info RunInfo, p *Pipeline, err error)

	BeforeNodeRun func(ctx context.Context, n *Node, inputs map[string]any)
	AfterNodeRun  func(ctx context.Context, n *Node, inputs, outputs map[string]any, took time.Duration)
	OnNodeError   func(ctx context.Context, n *Node, inputs map[string]any, err error)
	// OnPlan receives, before any node runs, whether each node will run
	// and why (when the cache, --force, --resume or
	// --only-missing-outputs chose); OnNodeSkipped is called for each
	// node that does not run, with the reason (also for the descendants
	// of a failed node under KeepGoing).
	OnPlan        func(ctx context.Context, plan []Decision)
	OnNodeSkipped func(ctx context.Context, n *Node, reason string)

	BeforeDatasetLoaded func(ctx context.Context, dataset string, n *Node)
	AfterDatasetLoaded  func(ctx context.Context, dataset string, data any, n *Node, took time.Duration)
	BeforeDatasetSaved  func(ctx context.Context, dataset string, data any, n *Node)
	AfterDatasetSaved   func(ctx context.Context, dataset string, data any, n *Node, took time.Duration)
}

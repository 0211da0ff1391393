package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A convolutional network runs hundreds of short parallel regions per
// image (each convolution's im2col + GEMM, Winograd's transforms and
// products, RoIAlign), back to back. ParallelChunks starts a goroutine
// per region, and on a virtual machine waking the idle core for it costs
// 50–120 µs, several percent of a ResNet forward (bench/vision measured
// ResNet-152 RoI extraction 7–8 % faster on the team). The team keeps its
// helper goroutines polling for a short while after each region, so the
// next region starts on them at once; after teamSpin without work they
// sleep on a condition variable and cost nothing.
//
// The team is this package's one process-wide resource: a worker pool
// that holds no configuration (its size is Workers() when it starts, and
// a region finding another size configured since runs on
// ParallelChunks). It runs one region at a time; a region started while
// it is busy (another goroutine's, or one nested in a region) runs on
// ParallelChunks instead, so concurrent callers stay correct.

// teamSpin is how long an idle helper polls for the next region before
// it sleeps.
const teamSpin = 2 * time.Millisecond

type teamTask struct {
	fn      func(chunk, lo, hi int)
	n       int // items
	chunk   int // items per chunk
	pending atomic.Int32
	// grain > 0: dynamic, workers claim blocks of grain items from next
	// until none are left (fn's first argument is then the worker)
	grain int
	next  atomic.Int64
}

// run is worker w's part of the task.
func (task *teamTask) run(w int) {
	if task.grain == 0 {
		if lo := w * task.chunk; lo < task.n {
			task.fn(w, lo, min(lo+task.chunk, task.n))
		}
		return
	}
	for {
		lo := int(task.next.Add(int64(task.grain))) - task.grain
		if lo >= task.n {
			return
		}
		task.fn(w, lo, min(lo+task.grain, task.n))
	}
}

type convTeam struct {
	busy    sync.Mutex // one region at a time
	helpers int
	gen     atomic.Uint64 // bumped once per region, after task is set
	task    atomic.Pointer[teamTask]
	mu      sync.Mutex // guards asleep, with wake
	wake    *sync.Cond
	asleep  int
}

var (
	teamOnce sync.Once
	team     *convTeam
)

// theTeam returns the process's convolution team, started on first use
// with Workers()−1 helpers.
func theTeam() *convTeam {
	teamOnce.Do(func() {
		t := &convTeam{helpers: Workers() - 1}
		t.wake = sync.NewCond(&t.mu)
		for w := 1; w <= t.helpers; w++ {
			// generation 0 is passed, not read by the goroutine: a region
			// posted before it first runs must still be seen as new
			go t.helper(w, 0)
		}
		team = t
	})
	return team
}

// helper runs chunk w of every region, from generation last on.
func (t *convTeam) helper(w int, last uint64) {
	for {
		deadline := time.Now().Add(teamSpin)
		for spins := 0; t.gen.Load() == last; spins++ {
			if spins&63 != 63 {
				continue
			}
			if time.Now().After(deadline) {
				t.mu.Lock()
				t.asleep++
				for t.gen.Load() == last {
					t.wake.Wait()
				}
				t.asleep--
				t.mu.Unlock()
				break
			}
			runtime.Gosched()
		}
		last = t.gen.Load()
		task := t.task.Load()
		task.run(w)
		task.pending.Add(-1)
	}
}

// convParallel is ParallelChunks on the team: fn runs on one contiguous
// chunk of [0, n) per worker, the first on the calling goroutine, with
// the same chunks and chunk indices as ParallelChunks.
func convParallel(n, cost int, fn func(chunk, lo, hi int)) {
	t := claimTeam(min(Workers(), n), n, cost, func() { fn(0, 0, n) }, func() { ParallelChunks(n, cost, fn) })
	if t != nil {
		defer t.busy.Unlock()
		t.post(&teamTask{fn: fn, n: n, chunk: (n + t.helpers) / (t.helpers + 1)})
	}
}

// convDynamic shares [0, n) out in blocks of grain items, each claimed
// by whichever worker is free: fn(worker, lo, hi) with worker <
// Workers(), a worker's blocks one after another (so per-worker scratch
// is safe). A helper that starts late (woken from sleep, or its core
// briefly taken) then holds nothing up: the others take its blocks, and
// the halves of a region no longer have to take equally long. cost is the
// work per item, as ParallelFor's.
func convDynamic(n, grain, cost int, fn func(worker, lo, hi int)) {
	grain = max(grain, 1)
	// off the team: a chunk per worker, each worked through in blocks of grain
	fallback := func() {
		ParallelChunks(n, cost, func(w, lo, hi int) {
			for b := lo; b < hi; b += grain {
				fn(w, b, min(b+grain, hi))
			}
		})
	}
	t := claimTeam(min(Workers(), (n+grain-1)/grain), n, cost, func() { fn(0, 0, n) }, fallback)
	if t != nil {
		defer t.busy.Unlock()
		t.post(&teamTask{fn: fn, n: n, grain: grain})
	}
}

// claimTeam returns the team, locked for one region of n items of cost
// each over the given number of workers, or runs the region itself and
// returns nil: serial (one worker, or too little work) or fallback (the
// team is busy, or was started for another worker count).
func claimTeam(workers, n, cost int, serial, fallback func()) *convTeam {
	if workers <= 1 || n*max(cost, 1) < MinParallelWork {
		if n > 0 {
			serial()
		}
		return nil
	}
	t := theTeam()
	if t.helpers != Workers()-1 || !t.busy.TryLock() {
		fallback()
		return nil
	}
	return t
}

// post runs task on the team, the caller as worker 0, and returns when
// every worker is done with it. The caller holds t.busy.
func (t *convTeam) post(task *teamTask) {
	task.pending.Store(int32(t.helpers))
	t.task.Store(task)
	t.gen.Add(1)
	t.mu.Lock()
	if t.asleep > 0 {
		t.wake.Broadcast()
	}
	t.mu.Unlock()
	task.run(0)
	for spins := 0; task.pending.Load() > 0; spins++ {
		if spins&63 == 63 {
			runtime.Gosched()
		}
	}
}

// convFor is ParallelFor on the team.
func convFor(n, cost int, fn func(lo, hi int)) {
	convParallel(n, cost, func(_, lo, hi int) { fn(lo, hi) })
}

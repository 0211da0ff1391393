package train

import (
	"context"
	"fmt"
	"math/rand/v2"

	"mmc/ml/batch"
)

// Dataset gives random access to examples; Example may read features
// from disk, so the loader calls it from its worker goroutines.
type Dataset interface {
	Len() int
	Example(i int) (*batch.Example, error)
}

// Examples is a Dataset held in memory.
type Examples []*batch.Example

// Len is the number of examples.
func (e Examples) Len() int { return len(e) }

// Example returns example i.
func (e Examples) Example(i int) (*batch.Example, error) {
	if i < 0 || i >= len(e) {
		return nil, fmt.Errorf("example index %d out of range [0, %d)", i, len(e))
	}
	return e[i], nil
}

// EpochOrder is the example order of one training epoch: a permutation
// drawn from a generator seeded by (seed, epoch) alone, so any epoch's
// order can be recomputed after a resume without saved RNG state.
func EpochOrder(n int, seed uint64, epoch int, shuffle bool) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		r := rand.New(rand.NewPCG(seed, uint64(epoch)+0x9e3779b97f4a7c15))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// loaded is one batch, or the error that prevented it.
type loaded struct {
	b   *batch.Batch
	err error
}

// Loader builds batches ahead of the consumer in worker goroutines and
// hands them out in order, so results do not depend on the number of
// workers. Close stops the workers; it must be called when the consumer
// stops early.
type Loader struct {
	futures chan chan loaded
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewLoader starts loading data in the given order, batchSize examples at
// a time (the last batch may be smaller). workers goroutines build
// batches; at most ahead batches wait finished or in progress. Batch k
// gets Step firstStep+k (or -1 when firstStep < 0) and its Seed from
// seed and Step.
func NewLoader(ctx context.Context, data Dataset, order []int, batchSize, workers, ahead int, firstStep int, seed uint64) *Loader {
	workers = max(workers, 1)
	ahead = max(ahead, 1)
	ctx, cancel := context.WithCancel(ctx)
	l := &Loader{futures: make(chan chan loaded, ahead), cancel: cancel, done: make(chan struct{})}
	type job struct {
		k   int
		out chan loaded
	}
	jobs := make(chan job)
	nBatches := (len(order) + batchSize - 1) / batchSize
	go func() {
		defer close(l.futures)
		defer close(jobs)
		for k := range nBatches {
			out := make(chan loaded, 1)
			select {
			case l.futures <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{k, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	finished := make(chan struct{}, workers)
	for range workers {
		go func() {
			defer func() { finished <- struct{}{} }()
			for j := range jobs {
				lo, hi := j.k*batchSize, min((j.k+1)*batchSize, len(order))
				b, err := buildBatch(data, order[lo:hi])
				if err == nil {
					b.Step = -1
					if firstStep >= 0 {
						b.Step = firstStep + j.k
						b.Seed = stepSeed(seed, b.Step)
					}
				}
				j.out <- loaded{b, err}
			}
		}()
	}
	go func() {
		for range workers {
			<-finished
		}
		close(l.done)
	}()
	return l
}

// Next returns the next batch, or (nil, nil) after the last one.
func (l *Loader) Next() (*batch.Batch, error) {
	f, ok := <-l.futures
	if !ok {
		return nil, nil
	}
	r, ok := <-f
	if !ok {
		return nil, fmt.Errorf("loader stopped")
	}
	return r.b, r.err
}

// Close stops the producer and waits for the workers to exit.
func (l *Loader) Close() {
	l.cancel()
	// Drain so the producer is not blocked on a full futures channel.
	for range l.futures {
	}
	<-l.done
}

func buildBatch(data Dataset, idx []int) (*batch.Batch, error) {
	ex := make([]*batch.Example, len(idx))
	for i, j := range idx {
		e, err := data.Example(j)
		if err != nil {
			return nil, fmt.Errorf("load example %d: %w", j, err)
		}
		ex[i] = e
	}
	return batch.Collate(ex)
}

// stepSeed mixes the run seed and a step into one value (splitmix64).
func stepSeed(seed uint64, step int) uint64 {
	z := seed + uint64(step+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

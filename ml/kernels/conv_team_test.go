package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every item of every region runs exactly once, with ParallelChunks'
// chunk indices, for regions posted back to back, after the helpers fell
// asleep, nested in a region, and from several goroutines at once (the
// busy team sends those to ParallelChunks).
func TestConvTeamRegions(t *testing.T) {
	region := func(n int) {
		seen := make([]atomic.Int32, n)
		convParallel(n, MinParallelWork, func(c, lo, hi int) {
			if c < 0 || c >= Workers() {
				t.Errorf("chunk index %d with %d workers", c, Workers())
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if v := seen[i].Load(); v != 1 {
				t.Fatalf("n %d: item %d ran %d times", n, i, v)
			}
		}
	}
	for n := 1; n < 200; n++ {
		region(n)
	}
	time.Sleep(3 * teamSpin) // helpers asleep
	region(1000)
	convFor(64, MinParallelWork, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			region(17)
		}
	})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 50; n < 150; n++ {
				region(n)
			}
		}()
	}
	wg.Wait()
}

// Dynamic regions run every item once, in blocks of at most grain, each
// worker's blocks one at a time (its scratch is never shared), on the
// team and on the busy team's fallback.
func TestConvDynamic(t *testing.T) {
	region := func(n, grain int) {
		seen := make([]atomic.Int32, n)
		var inUse [64]atomic.Int32
		convDynamic(n, grain, MinParallelWork, func(w, lo, hi int) {
			if w < 0 || w >= Workers() {
				t.Errorf("worker %d with %d workers", w, Workers())
				return
			}
			if inUse[w].Add(1) != 1 {
				t.Errorf("worker %d runs two blocks at once", w)
			}
			if hi-lo > max(grain, 1) {
				t.Errorf("block %d…%d longer than grain %d", lo, hi, grain)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			inUse[w].Add(-1)
		})
		for i := range seen {
			if v := seen[i].Load(); v != 1 {
				t.Fatalf("n %d grain %d: item %d ran %d times", n, grain, i, v)
			}
		}
	}
	for n := 1; n < 100; n++ {
		for _, g := range []int{0, 1, 3, 8, 200} {
			region(n, g)
		}
	}
	// nested: the inner regions find the team busy
	convFor(16, MinParallelWork, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			region(37, 4)
		}
	})
}

// Small regions back to back, as a ResNet runs them: on the team against
// a goroutine per region.
func BenchmarkConvTeamRegion(b *testing.B) {
	x := make([]float32, 1<<14)
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x[i] = x[i]*0.5 + 1
		}
	}
	b.Run("team", func(b *testing.B) {
		for b.Loop() {
			convFor(len(x), 4, work)
		}
	})
	b.Run("goroutines", func(b *testing.B) {
		for b.Loop() {
			ParallelFor(len(x), 4, work)
		}
	})
}

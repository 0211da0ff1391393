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

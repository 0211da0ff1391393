package flow

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"mmc/catalog"
	"mmc/config"
)

// layered builds a pipeline of n nodes in layers of width w: every node
// of a layer reads two outputs of the previous layer.
func layered(n, w int) []*Node {
	nodes := make([]*Node, 0, n)
	handles := make([]catalog.Handle[int], n)
	for i := range handles {
		handles[i] = catalog.Declare[int](fmt.Sprintf("d%05d", i))
	}
	src := catalog.Declare[int]("src")
	for i := 0; i < n; i++ {
		if i < w {
			nodes = append(nodes, Node1(fmt.Sprintf("n%05d", i), inc, src, handles[i]))
			continue
		}
		if i%w == 0 {
			nodes = append(nodes, Node1(fmt.Sprintf("n%05d", i), inc, handles[i-w], handles[i]))
			continue
		}
		nodes = append(nodes, Node2(fmt.Sprintf("n%05d", i), add, handles[i-w], handles[i-w-1], handles[i]))
	}
	return nodes
}

// cpuTime is the process's user+system CPU time. On a shared machine
// wall time per op mostly measures the other tenants; CPU time per op is
// what the code costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ms/op metric for the loop that started at c0.
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkBuildValidate10k builds and validates a 10,000-node pipeline
// (constructing the nodes, indexing, type checks, toposort).
// The target is under 100 ms per op.
func BenchmarkBuildValidate10k(b *testing.B) {
	c0 := cpuTime()
	for b.Loop() {
		p := New(layered(10000, 50)...)
		if err := p.Err(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

// BenchmarkSumRebuilt10k sums two separately built copies of the
// 10,000-node pipeline: every node meets its equal once (Kedro's p + p).
func BenchmarkSumRebuilt10k(b *testing.B) {
	p, q := New(layered(10000, 50)...), New(layered(10000, 50)...)
	c0 := cpuTime()
	for b.Loop() {
		if s := Sum(p, q); s.Err() != nil || s.Len() != 10000 {
			b.Fatal(s.Err())
		}
	}
	reportCPU(b, c0)
}

// BenchmarkFilter10k slices the 10,000-node pipeline from its middle
// (the result, 5,000 nodes, is validated again).
func BenchmarkFilter10k(b *testing.B) {
	p := New(layered(10000, 50)...)
	c0 := cpuTime()
	for b.Loop() {
		if _, err := p.Filter(Filter{FromNodes: []string{"n05000"}}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

// BenchmarkCheck10k validates the 10,000-node pipeline against a catalog.
func BenchmarkCheck10k(b *testing.B) {
	p := New(layered(10000, 50)...)
	conf, _ := config.ParseFile("c.yml", []byte("src: {type: json, filepath: src.json}\n"))
	cat, err := catalog.New(conf, nil, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c0 := cpuTime()
	for b.Loop() {
		if err := Check(p, cat); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

// spin burns CPU for about d without sleeping.
func spin(d time.Duration) int {
	end := time.Now().Add(d)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x += i * i
		}
	}
	return x
}

// BenchmarkParallelSpeedup runs 8 independent CPU-bound nodes (20 ms
// each) sequentially and with 2 workers, and reports the speed-up.
func BenchmarkParallelSpeedup(b *testing.B) {
	src := catalog.Declare[int]("src")
	var nodes []*Node
	nodes = append(nodes, Node0("source", func(context.Context) (int, error) { return 1, nil }, src))
	for i := 0; i < 8; i++ {
		nodes = append(nodes, Node1(fmt.Sprintf("cpu%d", i), func(_ context.Context, x int) (int, error) {
			return x + spin(20*time.Millisecond), nil
		}, src, catalog.Declare[int](fmt.Sprintf("out%d", i))))
	}
	p := New(nodes...)
	cat, _ := catalog.New(nil, nil, catalog.Options{})
	var seq, par time.Duration
	for b.Loop() {
		for _, workers := range []int{1, 2} {
			t0 := time.Now()
			if _, err := Run(context.Background(), p, cat, RunOptions{MaxWorkers: workers}); err != nil {
				b.Fatal(err)
			}
			if workers == 1 {
				seq += time.Since(t0)
			} else {
				par += time.Since(t0)
			}
		}
	}
	b.ReportMetric(float64(seq)/float64(par), "speedup")
	b.ReportMetric(float64(seq.Milliseconds())/float64(b.N), "seq-ms/op")
	b.ReportMetric(float64(par.Milliseconds())/float64(b.N), "par-ms/op")
}

// BenchmarkRunOverhead measures the runner's own cost per node on a
// chain of 1,000 trivial in-memory nodes.
func BenchmarkRunOverhead(b *testing.B) {
	p := New(layered(1000, 1)...)
	conf, _ := config.ParseFile("c.yml", []byte(""))
	for b.Loop() {
		cat, _ := catalog.New(conf, nil, catalog.Options{})
		cat.Save(context.Background(), "src", 1)
		if _, err := Run(context.Background(), p, cat, RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

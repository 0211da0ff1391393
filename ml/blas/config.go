package blas

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Options chooses the matrix-product backend and the thread budget.
type Options struct {
	// Backend computes the products; nil means the build's default
	// (OpenBLAS with cgo, gonum otherwise). It is run single-threaded:
	// Sgemm splits large products itself, so its idle threads never spin
	// while the kernels' goroutines run.
	Backend Backend
	// Threads is how many goroutines share one large product, and how
	// many ml/kernels splits its loops over; < 1 means GOMAXPROCS.
	Threads int
}

// config is an immutable snapshot; products load it once per call.
type config struct {
	backend Backend
	threads int
}

var (
	mu  sync.Mutex // serialises Configure and the lazy default
	cfg atomic.Pointer[config]
)

// Configure sets the backend and the thread budget for every later
// product and returns the previous options. A program calls it once at
// start-up (its main, a benchmark); it is safe while products run, which
// finish on the configuration they started with.
func Configure(o Options) Options {
	mu.Lock()
	defer mu.Unlock()
	prev := load()
	if o.Backend == nil {
		o.Backend = defaultBackend()
	}
	if o.Threads < 1 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	o.Backend.SetThreads(1)
	cfg.Store(&config{backend: o.Backend, threads: o.Threads})
	return Options{Backend: prev.backend, Threads: prev.threads}
}

// load returns the configuration, creating the default on first use.
func load() *config {
	if c := cfg.Load(); c != nil {
		return c
	}
	if mu.TryLock() {
		defer mu.Unlock()
	}
	if c := cfg.Load(); c != nil {
		return c
	}
	b := defaultBackend()
	b.SetThreads(1)
	c := &config{backend: b, threads: runtime.GOMAXPROCS(0)}
	cfg.CompareAndSwap(nil, c)
	return cfg.Load()
}

// Current returns the backend in use.
func Current() Backend { return load().backend }

// Name is the name of the backend in use.
func Name() string { return load().backend.Name() }

// Threads reports the thread budget (Options.Threads).
func Threads() int { return load().threads }

// Command bertlayer times one BERT-base encoder layer forward+backward
// (batch 8 × 128 tokens, fp32, 2 threads by default) in mmc's Go engine and
// in PyTorch, each in its own child process, and prints both times, both
// peak RSS figures and finally one line
//
//	ratio=<go time / torch time> rss_ratio=<go RSS / torch RSS>
//
// The ratio compares the best iteration of each side (see parseMS).
// Run it from anywhere: go run ./bench/bertlayer [-iters 5] [-threads 2].
// The PyTorch side needs /usr/bin/python3 with torch (Debian python3-torch).
package main

import (
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mmc/bench/internal/gemm"
	"mmc/ml/blas"
	"mmc/ml/nn"
	"mmc/ml/tensor"
)

//go:embed torch_layer.py
var torchScript []byte

type config struct {
	batch, tokens, hidden, heads, inter, iters, warmup, threads int
}

func main() {
	var c config
	flag.IntVar(&c.batch, "batch", 8, "batch size")
	flag.IntVar(&c.tokens, "tokens", 128, "sequence length")
	flag.IntVar(&c.hidden, "hidden", 768, "hidden size")
	flag.IntVar(&c.heads, "heads", 12, "attention heads")
	flag.IntVar(&c.inter, "inter", 3072, "intermediate size")
	flag.IntVar(&c.iters, "iters", 5, "timed iterations")
	flag.IntVar(&c.warmup, "warmup", 2, "untimed warm-up iterations")
	flag.IntVar(&c.threads, "threads", 2, "threads for both engines")
	python := flag.String("python", "/usr/bin/python3", "python with torch")
	worker := flag.Bool("worker", false, "run only the Go side and print its time")
	profile := flag.String("cpuprofile", "", "with -worker: write a CPU profile of the timed iterations")
	flag.Parse()
	if *worker {
		if err := runGo(c, *profile); err != nil {
			fmt.Fprintln(os.Stderr, "bertlayer:", err)
			os.Exit(1)
		}
		return
	}
	if err := compare(c, *python); err != nil {
		fmt.Fprintln(os.Stderr, "bertlayer:", err)
		os.Exit(1)
	}
}

func (c config) args() []string {
	var out []string
	for _, v := range []int{c.batch, c.tokens, c.hidden, c.heads, c.inter, c.iters, c.warmup, c.threads} {
		out = append(out, strconv.Itoa(v))
	}
	return out
}

// compare runs both sides as child processes so each peak RSS is its own.
func compare(c config, python string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("load average before: %s\n", loadavg())
	goArgs := []string{"-worker", "-batch", strconv.Itoa(c.batch), "-tokens", strconv.Itoa(c.tokens),
		"-hidden", strconv.Itoa(c.hidden), "-heads", strconv.Itoa(c.heads), "-inter", strconv.Itoa(c.inter),
		"-iters", strconv.Itoa(c.iters), "-warmup", strconv.Itoa(c.warmup), "-threads", strconv.Itoa(c.threads)}
	goOut, goRSS, goCPU, err := child(exec.Command(self, goArgs...), nil)
	if err != nil {
		return fmt.Errorf("go side: %w", err)
	}
	dir, err := os.MkdirTemp("", "bertlayer")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "torch_layer.py")
	if err := os.WriteFile(script, torchScript, 0o644); err != nil {
		return err
	}
	env := []string{"OMP_NUM_THREADS=" + strconv.Itoa(c.threads), "MKL_NUM_THREADS=" + strconv.Itoa(c.threads)}
	pyOut, pyRSS, pyCPU, err := child(exec.Command(python, append([]string{script}, c.args()...)...), env)
	if err != nil {
		return fmt.Errorf("torch side: %w", err)
	}
	goMS, err := parseMS(goOut)
	if err != nil {
		return fmt.Errorf("go side output %q: %w", goOut, err)
	}
	pyMS, err := parseMS(pyOut)
	if err != nil {
		return fmt.Errorf("torch side output %q: %w", pyOut, err)
	}
	fmt.Printf("BERT layer fwd+bwd, batch %d × %d tokens, hidden %d, %d heads, ffn %d, %d threads, dropout 0.1, %d timed iterations (ms=mean, min=best; ratio uses best)\n",
		c.batch, c.tokens, c.hidden, c.heads, c.inter, c.threads, c.iters)
	// CPU seconds of the whole child (start-up and warm-up included) help
	// read a run made while other work shares the cores.
	fmt.Printf("go (%s):  %s  peak RSS %.1f MiB  cpu %.2fs\n", blas.Name(), strings.TrimSpace(goOut), goRSS, goCPU)
	fmt.Printf("torch:        %s  peak RSS %.1f MiB  cpu %.2fs\n", strings.TrimSpace(pyOut), pyRSS, pyCPU)
	gflop, err1 := field(goOut, "gflop")
	rate, err2 := field(goOut, "gemm_gflops")
	if err1 == nil && err2 == nil {
		eff := gflop / (goMS / 1000)
		fmt.Printf("layer FLOPs (forward + backward products): %.1f GFLOP; go effective %.1f GFLOP/s (best iteration); SGEMM at the layer's shapes %.1f GFLOP/s; quotient %.0f%% (goal ≥ 80%%)\n",
			gflop, eff, rate, 100*eff/rate)
		fmt.Printf("goals: ratio ≤ 0.7 %s, GEMM quotient ≥ 80%% %s\n", met(goMS/pyMS <= 0.7), met(eff >= 0.8*rate))
	}
	fmt.Printf("load average after: %s\n", loadavg())
	fmt.Printf("ratio=%.3f rss_ratio=%.3f\n", goMS/pyMS, goRSS/pyRSS)
	return nil
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// layerGEMMs lists the products of one forward+backward of the layer.
func layerGEMMs(c config) gemm.List {
	var l gemm.List
	rows := c.batch * c.tokens
	l.Linear(rows, c.hidden, c.hidden, 4, true, true)
	l.Linear(rows, c.hidden, c.inter, 1, true, true)
	l.Linear(rows, c.inter, c.hidden, 1, true, true)
	l.Attention(c.batch, c.heads, c.tokens, c.tokens, c.hidden/c.heads, 1, true, true) // nn.NewBertLayer keeps its context
	return l
}

// field reads name=value from a side's output.
func field(out, name string) (float64, error) {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no %s= field", name)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// child runs cmd and returns its stdout, peak RSS in MiB and CPU seconds.
func child(cmd *exec.Cmd, env []string) (out string, rssMiB, cpuSec float64, err error) {
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", 0, 0, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return "", 0, 0, fmt.Errorf("no resource usage for %s", cmd.Path)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return string(b), float64(ru.Maxrss) / 1024, cpu.Seconds(), nil // Maxrss is KiB on Linux
}

// parseMS reads the best (min=) iteration time: on cores shared with
// other work the fastest iteration is the one least disturbed, so the
// ratio of minima is the steadiest comparison (the means are printed too).
func parseMS(out string) (float64, error) {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "min="); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no min= field")
}

// runGo is the Go side: the same layer and inputs shape as torch_layer.py.
func runGo(c config, profile string) error {
	runtime.GOMAXPROCS(c.threads)
	blas.Configure(blas.Options{Threads: c.threads})
	// Activations are freed during backward; collecting a little earlier
	// than the default keeps the heap near the live set. GOGC overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	rng := tensor.NewRNG(0)
	layer := nn.NewBertLayer(c.hidden, c.heads, c.inter, 0.02, rng)
	x := tensor.Zeros(c.batch, c.tokens, c.hidden)
	nn.Normal(x, 1, rng)
	mask := make([]float32, c.batch*c.tokens)
	for b := 0; b < c.batch; b++ {
		for t := c.tokens - c.tokens/8; t < c.tokens; t++ {
			mask[b*c.tokens+t] = -10000
		}
	}
	// The explicit-backward layer ViLBERT and TextBERT are built from, with
	// its state and scratch reused from step to step.
	var st nn.LayerState
	var sc nn.LayerScratch
	dy := make([]float32, len(x.Data))
	for i := range dy {
		dy[i] = rng.NormFloat32()
	}
	params := nn.Parameters(layer)
	var total, best time.Duration
	for it := 0; it < c.warmup+c.iters; it++ {
		if it == c.warmup && profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		layer.Forward(&st, &sc, x.Data, c.batch, c.tokens, mask, true, rng)
		layer.Backward(&st, &sc, dy, true, nil)
		d := time.Since(start)
		if it >= c.warmup {
			total += d
			if best == 0 || d < best {
				best = d
			}
		}
		for _, p := range params {
			clear(p.Tensor.Grad)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pprof.StopCPUProfile() // the GEMM measurement below is not part of the profile
	l := layerGEMMs(c)
	fmt.Printf("ms=%.3f min=%.3f gflop=%.3f gemm_gflops=%.1f\n", ms(total)/float64(c.iters), ms(best), l.FLOPs()/1e9, l.Rate())
	return nil
}

// Command vilbert benchmarks the Go ViLBERT against the same model in
// PyTorch: the full-size Facebook configuration, one training step
// (forward + backward + AdamW) on a batch of 8 memes × 128 tokens × 100
// regions, peak resident memory, and single-meme inference latency. Each
// side runs in its own process so that peak RSS is its own; the last line
// is `ratio=<go/torch step time> rss_ratio=<go/torch peak RSS>`.
//
// By default the Go side applies AdamW inside the backward pass
// (Model.BackwardStep: the same arithmetic, but gradients are not all
// kept until the step); -in-backward=false runs Backward then
// AdamW.Step as the torch side does.
//
//	go run ./bench/vilbert [-steps 3] [-threads 2] [-in-backward=false]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"mmc/bench/internal/gemm"
	"mmc/ml/blas"
	"mmc/ml/optim"
	"mmc/ml/tensor"
	"mmc/ml/vilbert"
)

var (
	profile      string
	stepInsideBW bool
	allPositions bool
)

type result struct {
	StepS    float64 `json:"step_s"`
	StepFLOP float64 `json:"step_flop"`   // the step's matrix products, from the config
	GemmRate float64 `json:"gemm_gflops"` // SGEMM at the same shapes, measured in the same process
	InferS   float64 `json:"infer_s"`
	PeakRSS  int64   `json:"peak_rss"`
	Threads  int     `json:"threads"`
	Backend  string  `json:"backend,omitempty"`
	TorchVer string  `json:"torch,omitempty"`
}

func main() {
	side := flag.String("side", "", "internal: run one side (go) and print JSON")
	batch := flag.Int("batch", 8, "memes per training batch")
	tokens := flag.Int("tokens", 128, "tokens per meme")
	regions := flag.Int("regions", 100, "regions per meme")
	steps := flag.Int("steps", 3, "timed training steps after one warm-up step")
	inferRuns := flag.Int("infer-runs", 5, "timed single-meme inferences (median reported)")
	threads := flag.Int("threads", 2, "threads for each side (GOMAXPROCS and BLAS; torch.set_num_threads)")
	python := flag.String("python", "/usr/bin/python3", "Python with torch")
	cpuprofile := flag.String("cpuprofile", "", "with -side=go: write a CPU profile of the timed steps")
	torchFirst := flag.Bool("torch-first", false, "run the PyTorch side before the Go side (the machine's load drifts; alternate to check)")
	inBackward := flag.Bool("in-backward", true, "Go side: apply AdamW inside the backward pass (Model.BackwardStep), keeping two gradient buffers instead of one per parameter; false: Backward then AdamW.Step, as the torch side does")
	allPos := flag.Bool("all-positions", false, "Go side: compute every position of the last text and visual layers, as the torch side does (vilbert.Model.AllPositions); by default they compute the first position only, all the MMF head reads")
	flag.Parse()
	args := []int{*batch, *tokens, *regions, *steps, *inferRuns, *threads}
	if *side == "go" {
		profile, stepInsideBW, allPositions = *cpuprofile, *inBackward, *allPos
		r, err := goSide(args)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := run(args, *python, *torchFirst, *inBackward, *allPos); err != nil {
		fmt.Fprintln(os.Stderr, "bench/vilbert:", err)
		os.Exit(1)
	}
}

func run(args []int, python string, torchFirst, inBackward, allPos bool) error {
	fmt.Printf("ViLBERT (Facebook config, MMF head, 247,780,354 parameters): batch %d × %d tokens × %d regions, %d steps, %d threads\n",
		args[0], args[1], args[2], args[3], args[5])
	fmt.Printf("load average before: %s\n", loadavg())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	strArgs := []string{"-side=go", fmt.Sprintf("-in-backward=%t", inBackward), fmt.Sprintf("-all-positions=%t", allPos)}
	for i, name := range []string{"batch", "tokens", "regions", "steps", "infer-runs", "threads"} {
		strArgs = append(strArgs, fmt.Sprintf("-%s=%d", name, args[i]))
	}
	script, err := torchScript()
	if err != nil {
		return err
	}
	pyArgs := []string{script}
	for _, a := range args {
		pyArgs = append(pyArgs, strconv.Itoa(a))
	}
	var goRes, torchRes *result
	sides := []func() error{
		func() (err error) {
			goRes, err = sideResult(exec.Command(self, strArgs...))
			if err != nil {
				err = fmt.Errorf("go side: %w", err)
			}
			return err
		},
		func() (err error) {
			torchRes, err = sideResult(exec.Command(python, pyArgs...))
			if err != nil {
				err = fmt.Errorf("torch side: %w", err)
			}
			return err
		},
	}
	if torchFirst {
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, side := range sides {
		if err := side(); err != nil {
			return err
		}
		fmt.Printf("load average: %s\n", loadavg())
	}
	fmt.Printf("%-8s %14s %16s %14s  %s\n", "side", "train step s", "infer 1 meme ms", "peak RSS MiB", "backend")
	fmt.Printf("%-8s %14.3f %16.1f %14.0f  %s, %d threads\n", "go", goRes.StepS, goRes.InferS*1e3, float64(goRes.PeakRSS)/(1<<20), goRes.Backend, goRes.Threads)
	fmt.Printf("%-8s %14.3f %16.1f %14.0f  torch %s, %d threads\n", "torch", torchRes.StepS, torchRes.InferS*1e3, float64(torchRes.PeakRSS)/(1<<20), torchRes.TorchVer, torchRes.Threads)
	eff := goRes.StepFLOP / goRes.StepS / 1e9
	fmt.Printf("step FLOPs (forward + backward products, from the config): %.3f TFLOP\n", goRes.StepFLOP/1e12)
	fmt.Printf("go effective %.1f GFLOP/s; SGEMM at the model's shapes %.1f GFLOP/s; quotient %.0f%% (goal ≥ 75%%)\n",
		eff, goRes.GemmRate, 100*eff/goRes.GemmRate)
	ratio, rss, infer := goRes.StepS/torchRes.StepS, float64(goRes.PeakRSS)/float64(torchRes.PeakRSS), goRes.InferS/torchRes.InferS
	fmt.Printf("goals: ratio ≤ 0.45 %s, rss_ratio ≤ 0.6 %s, inference ≥ 3× faster %s, GEMM quotient ≥ 75%% %s\n",
		met(ratio <= 0.45), met(rss <= 0.6), met(infer <= 1.0/3), met(eff >= 0.75*goRes.GemmRate))
	fmt.Printf("infer_ratio=%.3f\n", infer)
	fmt.Printf("ratio=%.3f rss_ratio=%.3f\n", ratio, rss)
	return nil
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// stepGEMMs lists the matrix products of one training step (or, without
// train, one forward pass) of the model at batch b × t tokens × r regions
// (MMF regions; text embeddings trainable, so every text layer passes an
// input gradient down). cutText and cutImage say which stream's last
// layer computes only the first position (vilbert.Model.FirstOnly).
func stepGEMMs(c vilbert.Config, b, t, r int, train, cutText, cutImage bool) gemm.List {
	var l gemm.List
	H, Dv, bi := c.HiddenSize, c.VHiddenSize, c.BiHiddenSize
	bt, br := b*t, b*r
	l.Linear(br, c.VFeatureSize, Dv, 1, train, false)
	l.Linear(br, 5, Dv, 1, train, false)
	layer := func(d, inter, heads, n, L int) {
		l.Linear(b*L, d, d, 4*n, train, true)
		l.Linear(b*L, d, inter, n, train, true)
		l.Linear(b*L, inter, d, n, train, true)
		l.Attention(b, heads, L, L, d/heads, n, train, false) // ViLBERT recomputes its contexts
	}
	// A cut last layer: keys and values at every position, the rest on b
	// rows.
	firstLayer := func(d, inter, heads, L int) {
		l.Linear(b*L, d, d, 2, train, true)
		l.Linear(b, d, d, 2, train, true)
		l.Linear(b, d, inter, 1, train, true)
		l.Linear(b, inter, d, 1, train, true)
		l.Attention(b, heads, 1, L, d/heads, 1, train, false)
	}
	stream := func(d, inter, heads, n, L int, cut bool) {
		if cut {
			layer(d, inter, heads, n-1, L)
			firstLayer(d, inter, heads, L)
			return
		}
		layer(d, inter, heads, n, L)
	}
	stream(H, c.IntermediateSize, c.NumAttentionHeads, c.NumHiddenLayers, t, cutText)
	stream(Dv, c.VIntermediateSize, c.VNumAttentionHeads, c.VNumHiddenLayers, r, cutImage)
	if n := len(c.VBiAttentionID); c.WithCoattention && n > 0 {
		l.Linear(br, Dv, bi, 3*n, train, true)
		l.Linear(bt, H, bi, 3*n, train, true)
		l.Attention(b, c.BiNumAttentionHeads, t, r, bi/c.BiNumAttentionHeads, n, train, false)
		l.Attention(b, c.BiNumAttentionHeads, r, t, bi/c.BiNumAttentionHeads, n, train, false)
		l.Linear(br, bi, Dv, n, train, true)
		l.Linear(bt, bi, H, n, train, true)
		l.Linear(br, Dv, c.VIntermediateSize, n, train, true)
		l.Linear(br, c.VIntermediateSize, Dv, n, train, true)
		l.Linear(bt, H, c.IntermediateSize, n, train, true)
		l.Linear(bt, c.IntermediateSize, H, n, train, true)
	}
	l.Linear(b, H, bi, 1, train, true)
	l.Linear(b, Dv, bi, 1, train, true)
	l.Linear(b, bi, bi, 1, train, true)
	l.Linear(b, bi, c.NumLabels, 1, train, true)
	return l
}

// torchScript finds torch_side.py next to this source file.
func torchScript() (string, error) {
	for _, dir := range []string{"bench/vilbert", "."} {
		p := filepath.Join(dir, "torch_side.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("torch_side.py not found; run from the repository root")
}

func sideResult(cmd *exec.Cmd) (*result, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		return nil, fmt.Errorf("output %q: %w", out.String(), err)
	}
	return &r, nil
}

func goSide(args []int) (*result, error) {
	b, t, r, steps, inferRuns, threads := args[0], args[1], args[2], args[3], args[4], args[5]
	runtime.GOMAXPROCS(threads)
	blas.Configure(blas.Options{Threads: threads})
	cfg := vilbert.DefaultConfig()
	m, err := vilbert.New(cfg, 1)
	if err != nil {
		return nil, err
	}
	m.AllPositions = allPositions
	opt := optim.NewAdamW(optim.SplitDecay(m.Parameters(), 0.01), optim.AdamWConfig{LR: 1e-5, Eps: 1e-8})
	rng := tensor.NewRNG(7)
	in := randomInputs(rng, cfg, b, t, r)
	labels := make([]int, b)
	for i := range labels {
		labels[i] = int(rng.Uint64() & 1)
	}
	step := func() error {
		if !stepInsideBW {
			m.ZeroGrad()
		}
		out, err := m.Forward(in, true, rng)
		if err != nil {
			return err
		}
		_, dl, err := vilbert.CrossEntropy(out.Logits, labels, cfg.NumLabels)
		if err != nil {
			return err
		}
		if stepInsideBW {
			return m.BackwardStep(dl, opt.InBackward())
		}
		if err := m.Backward(dl); err != nil {
			return err
		}
		return opt.Step()
	}
	if err := step(); err != nil { // warm-up: gradients and AdamW state
		return nil, err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	t0 := time.Now()
	for range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	stepS := time.Since(t0).Seconds() / float64(steps)
	pprof.StopCPUProfile()

	// Inference: one meme through the same model in eval mode, as the
	// torch side does.
	one := randomInputs(rng, cfg, 1, t, r)
	if _, err := m.Forward(one, false, nil); err != nil {
		return nil, err
	}
	var times []float64
	for range inferRuns {
		t0 := time.Now()
		if _, err := m.Forward(one, false, nil); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	sort.Float64s(times)
	mode := "Backward+Step"
	if stepInsideBW {
		mode = "AdamW in backward"
	}
	if allPositions {
		mode += ", all positions"
	}
	rss := peakRSS() // before the GEMM measurement's buffers
	cutText, cutImage := m.FirstOnly()
	gemms := stepGEMMs(cfg, b, t, r, true, cutText, cutImage)
	return &result{StepS: stepS, InferS: times[len(times)/2], PeakRSS: rss, Threads: threads, Backend: blas.Name() + ", " + mode,
		StepFLOP: gemms.FLOPs(), GemmRate: gemms.Rate()}, nil
}

func randomInputs(rng *tensor.RNG, cfg vilbert.Config, b, t, r int) *vilbert.Inputs {
	in := &vilbert.Inputs{Batch: b, TextLen: t, Regions: r,
		InputIDs: make([]int32, b*t), Features: make([]float32, b*r*cfg.VFeatureSize), Locations: make([]float32, b*r*5)}
	for i := range in.InputIDs {
		in.InputIDs[i] = int32(1000 + rng.Uint64()%29000)
	}
	for i := range in.Features {
		in.Features[i] = abs(rng.NormFloat32())
	}
	for i := range in.Locations {
		in.Locations[i] = rng.Float32()
	}
	return in
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// peakRSS is VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Command detect benchmarks the Go Faster R-CNN detectors
// (ml/vision/detect) against the same networks in torch/torchvision:
// frcnn (torchvision's fasterrcnn_resnet50_fpn, 800×1333 input, 91
// classes) and vg (the caffe-style Visual Genome ResNet-101 C4 model,
// 600×1000, 1601 classes, 300 proposals through layer4 at 14×14), random
// weights of the real sizes. The torch side builds the network, saves
// its weights to a temporary file and is timed; the Go side loads that
// file, so both run the very same network (and keep the same number of
// proposals). Each side runs in its own process (peak RSS is that
// process's maximum resident set, from rusage) on -threads threads;
// images/s counts preprocessing (an 800×600 RGB image) and the detector
// forward pass after one warm-up image.
//
// The last line is `ratio=<go time / torch time> rss_ratio=<go / torch>`,
// each the geometric mean over the two models; the load average is
// printed before and after each model.
//
//	go run ./bench/detect [-images 3] [-threads 2] [-small] [-models frcnn,vg]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mmc/ml/blas"
	"mmc/ml/vision/detect"
)

type result struct {
	ImagesPerS float64 `json:"images_per_s"`
	PeakRSS    int64   `json:"peak_rss"`
	CPUS       float64 `json:"-"`
	Info       string  `json:"info"`
}

func main() {
	side := flag.String("side", "", "internal: run the Go side of one model (frcnn or vg) and print JSON")
	weights := flag.String("weights", "", "internal: the weights the torch side saved")
	images := flag.Int("images", 3, "timed images per model after one warm-up image")
	threads := flag.Int("threads", 2, "threads per side (GOMAXPROCS and BLAS; torch.set_num_threads)")
	small := flag.Bool("small", false, "tiny models: check that the benchmark runs")
	models := flag.String("models", "frcnn,vg", "models to run")
	python := flag.String("python", "/usr/bin/python3", "Python with torch and torchvision")
	cpuprofile := flag.String("cpuprofile", "", "with -side: write a CPU profile of the timed images")
	flag.Parse()
	if *side != "" {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		r, err := goSide(*side, *weights, *images, *threads, *small)
		if err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := run(strings.Split(*models, ","), *images, *threads, *small, *python); err != nil {
		fmt.Fprintln(os.Stderr, "bench/detect:", err)
		os.Exit(1)
	}
}

func run(models []string, images, threads int, small bool, python string) error {
	size := "full size"
	if small {
		size = "SMALL MODELS (a smoke test, not a measurement)"
	}
	fmt.Printf("Faster R-CNN detectors, %s: %d images per model, %d threads\n", size, images, threads)
	fmt.Printf("load average before: %s\n", loadavg())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script, err := torchScript()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-detect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logT, logR := 0.0, 0.0
	fmt.Printf("%-6s %-6s %10s %14s %13s  %s\n", "model", "side", "images/s", "peak RSS MiB", "process CPU s", "")
	for _, model := range models {
		weights := filepath.Join(dir, model+".pth")
		n := strconv.Itoa(threads)
		py := exec.Command(python, script, model, strconv.Itoa(images), n, strconv.FormatBool(small), weights)
		// torch's OpenMP pool and the BLAS it calls get the same thread budget as Go
		py.Env = append(os.Environ(), "OMP_NUM_THREADS="+n, "OPENBLAS_NUM_THREADS="+n, "MKL_NUM_THREADS="+n)
		t, err := sideResult(py)
		if err != nil {
			return fmt.Errorf("torch side %s: %w", model, err)
		}
		g, err := sideResult(exec.Command(self, "-side="+model, "-weights="+weights, "-images="+strconv.Itoa(images),
			"-threads="+n, "-small="+strconv.FormatBool(small)))
		if err != nil {
			return fmt.Errorf("go side %s: %w", model, err)
		}
		for _, r := range []struct {
			side string
			r    *result
		}{{"go", g}, {"torch", t}} {
			fmt.Printf("%-6s %-6s %10.3f %14.0f %13.1f  %s\n", model, r.side, r.r.ImagesPerS, float64(r.r.PeakRSS)/(1<<20), r.r.CPUS, r.r.Info)
		}
		tr, rr := t.ImagesPerS/g.ImagesPerS, float64(g.PeakRSS)/float64(t.PeakRSS)
		fmt.Printf("%s: ratio=%.3f rss_ratio=%.3f (load %s)\n", model, tr, rr, loadavg())
		logT += math.Log(tr) / float64(len(models))
		logR += math.Log(rr) / float64(len(models))
	}
	fmt.Printf("ratio=%.3f rss_ratio=%.3f\n", math.Exp(logT), math.Exp(logR))
	return nil
}

func goSide(model, weights string, n, threads int, small bool) (*result, error) {
	runtime.GOMAXPROCS(threads)
	blas.Configure(blas.Options{Threads: threads})
	sd, err := detect.LoadStateDict(model, weights)
	if err != nil {
		return nil, err
	}
	var step func(image.Image) error
	switch model {
	case "frcnn":
		cfg := detect.DefaultFPNConfig()
		if small {
			cfg.MinSize, cfg.MaxSize = 128, 192
		}
		m, err := detect.LoadFasterRCNNFPN(sd, cfg)
		if err != nil {
			return nil, err
		}
		var ws detect.FPNWorkspace
		step = func(img image.Image) error { _, err := m.Detect(&ws, img); return err }
	case "vg":
		cfg := detect.DefaultC4Config()
		if small {
			cfg.Short, cfg.MaxSize = 128, 192
		}
		m, err := detect.LoadFasterRCNNC4(sd, cfg)
		if err != nil {
			return nil, err
		}
		var ws detect.C4Workspace
		step = func(img image.Image) error { _, err := m.Forward(&ws, img); return err }
	default:
		return nil, fmt.Errorf("unknown model %q", model)
	}
	sd = nil
	img := testImage()
	if err := step(img); err != nil {
		return nil, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := step(img); err != nil {
			return nil, err
		}
	}
	s := time.Since(start).Seconds()
	return &result{ImagesPerS: float64(n) / s, Info: "go " + runtime.Version() + ", " + blas.Name()}, nil
}

// testImage is an 800×600 opaque RGB gradient, the same on both sides.
func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 800, 600))
	for y := 0; y < 600; y++ {
		for x := 0; x < 800; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / 799), uint8(y * 255 / 599), uint8((x + y) % 256), 255})
		}
	}
	return img
}

func torchScript() (string, error) {
	for _, dir := range []string{"bench/detect", "."} {
		p := filepath.Join(dir, "torch_side.py")
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("torch_side.py not found; run from the repository root")
}

// sideResult runs one side and fills in its peak RSS from rusage.
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
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = ru.Maxrss << 10 // kB on Linux
	}
	r.CPUS = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return &r, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Command vision benchmarks the Go image feature extractors against the
// same computation in torch/torchvision: resnet152_roi (ResNet-152,
// 600×600 input, 36 multi-scale RoIAlign boxes through layer4) and dinov2
// (ViT-L/14 at 518×518, 37×37 patches, 6×6 interpolated regions), random
// weights of the real sizes. Each model and side runs in its own process
// (peak RSS is that process's maximum resident set, from rusage), on
// -threads threads; images/s counts preprocessing (Pillow-style resize
// from an 800×600 RGB image) and extraction after one warm-up image.
//
// The Go side passes all the timed images to one Extract call, as the
// extraction node passes its batch (resnet152_roi then runs layer3 on
// pairs of images); -per-call 1 makes one call per image, as the torch
// side runs (batching the torch side made it slower per image: 824 vs
// 723–747 ms for two images through the trunk at once, measured once).
//
// Process CPU seconds (user + system, model set-up included) are printed
// too: on a busy machine they say more than wall-clock rates, though
// spinning OpenMP/BLAS threads count in them.
//
// The last line is `ratio=<go time / torch time> rss_ratio=<go / torch>`,
// each the geometric mean over the two models (per-model ratios are
// printed above it).
//
//	go run ./bench/vision [-images 4] [-per-call 0] [-threads 2] [-small]
//
// -small swaps in tiny models (a check that the benchmark runs, not a
// measurement).
package main

import (
	"bytes"
	"context"
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
	"mmc/ml/vision"
)

type result struct {
	ImagesPerS float64 `json:"images_per_s"`
	PeakRSS    int64   `json:"peak_rss"` // filled in by the parent from rusage
	CPUS       float64 `json:"-"`        // user+system seconds of the whole process (rusage)
	Info       string  `json:"info"`
}

func main() {
	side := flag.String("side", "", "internal: run the Go side of one model (roi or dino) and print JSON")
	images := flag.Int("images", 4, "timed images per model after one warm-up image")
	perCall := flag.Int("per-call", 0, "images per Extract call on the Go side (0: all in one call, as the extraction node passes its batch; 1: one at a time, as the torch side runs)")
	threads := flag.Int("threads", 2, "threads per side (GOMAXPROCS and BLAS; torch.set_num_threads)")
	small := flag.Bool("small", false, "tiny models: check that the benchmark runs")
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
		r, err := goSide(*side, *images, *perCall, *threads, *small)
		if err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := run(*images, *perCall, *threads, *small, *python); err != nil {
		fmt.Fprintln(os.Stderr, "bench/vision:", err)
		os.Exit(1)
	}
}

func run(images, perCall, threads int, small bool, python string) error {
	size := "full size"
	if small {
		size = "SMALL MODELS (a smoke test, not a measurement)"
	}
	calls := "all in one Extract call"
	if perCall > 0 {
		calls = fmt.Sprintf("%d per Extract call", perCall)
	}
	fmt.Printf("vision extractors, %s: %d images per model (Go: %s), %d threads\n", size, images, calls, threads)
	fmt.Printf("load average before: %s\n", loadavg())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script, err := torchScript()
	if err != nil {
		return err
	}
	common := []string{"-images=" + strconv.Itoa(images), "-per-call=" + strconv.Itoa(perCall), "-threads=" + strconv.Itoa(threads), "-small=" + strconv.FormatBool(small)}
	logT, logR := 0.0, 0.0
	fmt.Printf("%-15s %-6s %10s %14s %12s  %s\n", "model", "side", "images/s", "peak RSS MiB", "process CPU s", "")
	for _, model := range []string{"roi", "dino"} {
		g, err := sideResult(exec.Command(self, append([]string{"-side=" + model}, common...)...))
		if err != nil {
			return fmt.Errorf("go side %s: %w", model, err)
		}
		py := exec.Command(python, script, model, strconv.Itoa(images), strconv.Itoa(threads), strconv.FormatBool(small))
		n := strconv.Itoa(threads)
		// torch's OpenMP pool and the OpenBLAS it calls for Linear get the same thread budget as Go
		py.Env = append(os.Environ(), "OMP_NUM_THREADS="+n, "OPENBLAS_NUM_THREADS="+n, "MKL_NUM_THREADS="+n)
		t, err := sideResult(py)
		if err != nil {
			return fmt.Errorf("torch side %s: %w", model, err)
		}
		name := map[string]string{"roi": "resnet152_roi", "dino": "dinov2"}[model]
		for _, r := range []struct {
			side string
			r    *result
		}{{"go", g}, {"torch", t}} {
			fmt.Printf("%-15s %-6s %10.3f %14.0f %12.1f  %s\n", name, r.side, r.r.ImagesPerS, float64(r.r.PeakRSS)/(1<<20), r.r.CPUS, r.r.Info)
		}
		tr, rr := t.ImagesPerS/g.ImagesPerS, float64(g.PeakRSS)/float64(t.PeakRSS)
		fmt.Printf("%s: ratio=%.3f rss_ratio=%.3f (load %s)\n", name, tr, rr, loadavg())
		logT += math.Log(tr) / 2
		logR += math.Log(rr) / 2
	}
	fmt.Printf("ratio=%.3f rss_ratio=%.3f\n", math.Exp(logT), math.Exp(logR))
	return nil
}

func goSide(model string, n, perCall, threads int, small bool) (*result, error) {
	runtime.GOMAXPROCS(threads)
	blas.Configure(blas.Options{Threads: threads})
	var (
		e   vision.Extractor
		err error
	)
	switch model {
	case "roi":
		arch := vision.ResNetArch{Layers: [4]int{3, 8, 36, 3}, Bottleneck: true, Width: 64}
		p := vision.RoIParams{}
		if small {
			arch, p.ImageSize = vision.ResNetArch{Layers: [4]int{1, 1, 1, 1}, Bottleneck: true, Width: 8}, 160
		}
		e, err = vision.RandomResNetRoI(arch, p, 1)
	case "dino":
		width, depth, grid, p := 1024, 24, 37, vision.DINOv2Params{}
		if small {
			width, depth, grid, p.ImageSize = 128, 2, 8, 112
		}
		var vit *vision.ViT
		vit, err = vision.LoadViT(vision.RandomViTStateDict(width, depth, 14, grid, 0, 1))
		if err == nil {
			e, err = vision.NewDINOv2FromViT(vit, p, false)
		}
	default:
		return nil, fmt.Errorf("unknown model %q", model)
	}
	if err != nil {
		return nil, err
	}
	img := testImage()
	if _, err := e.Extract(context.Background(), []image.Image{img}); err != nil {
		return nil, err
	}
	batch := make([]image.Image, n)
	for i := range batch {
		batch[i] = img
	}
	if perCall <= 0 {
		perCall = n
	}
	start := time.Now()
	for i := 0; i < n; i += perCall {
		if _, err := e.Extract(context.Background(), batch[i:min(i+perCall, n)]); err != nil {
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
	for _, dir := range []string{"bench/vision", "."} {
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

package lmdbstore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mmc/features"
)

// BenchmarkRandomGet times random reads (Get + PadRegions to 100) on a
// store of LMDBSTORE_BENCH_IMAGES (default 1000) MMF-sized images
// (100 × 2048 float32 each) written to the benchmark's temp dir, and, when
// /usr/bin/python3 has lmdb and numpy, the same reads done MMF's way
// (pickle.loads + numpy padding + transformer_bbox) on the same store.
// It prints reads/s for both and their ratio.
func BenchmarkRandomGet(b *testing.B) {
	images := 1000
	if s := os.Getenv("LMDBSTORE_BENCH_IMAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("LMDBSTORE_BENCH_IMAGES=%q", s)
		}
		images = n
	}
	const boxes, dim = 100, 2048
	path := filepath.Join(b.TempDir(), "detectron.lmdb")
	start := time.Now()
	w, err := Create(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, images)
	rec := &features.Record{Dim: dim, NumBoxes: boxes, ImageW: 640, ImageH: 480,
		Features: make([]float32, boxes*dim), Boxes: make([]float32, boxes*4)}
	for i := range ids {
		ids[i] = fmt.Sprintf("%05d", 10000+i)
		rec.ID = ids[i]
		for j := range rec.Features {
			rec.Features[j] = rng.Float32()
		}
		for j := 0; j < boxes; j++ {
			x, y := rng.Float32()*320, rng.Float32()*240
			copy(rec.Boxes[4*j:], []float32{x, y, x + 100, y + 100})
		}
		if err := w.Put(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %d images in %v", images, time.Since(start))

	r, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var goRate float64
	b.Run("go", func(b *testing.B) {
		pick := rand.New(rand.NewPCG(3, 4))
		b.SetBytes(boxes * dim * 4)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rec, err := r.Get(ids[pick.IntN(len(ids))])
			if err != nil {
				b.Fatal(err)
			}
			features.PadRegions(rec, features.DefaultMaxFeatures)
		}
		goRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(goRate, "reads/s")
	})

	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import lmdb, numpy").Run() != nil {
		b.Log("python3-lmdb/numpy not available: no peer measurement")
		return
	}
	out, err := exec.Command(py, "../../scripts/fixtures/pickle_lmdb.py", "bench-lmdb", path, "2000").CombinedOutput()
	if err != nil {
		b.Fatalf("python peer: %v\n%s", err, out)
	}
	s := strings.TrimSpace(string(out))
	pyRate, err := strconv.ParseFloat(strings.TrimPrefix(s[strings.LastIndex(s, "\n")+1:], "reads_per_s="), 64)
	if err != nil {
		b.Fatalf("python peer output %q", out)
	}
	fmt.Printf("random reads/s: go=%.0f python_mmf=%.0f ratio=%.2f (go/python, higher is better)\n", goRate, pyRate, goRate/pyRate)
}

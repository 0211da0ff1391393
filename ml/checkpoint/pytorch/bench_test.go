package pytorch

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoad loads a ~100 MB float32 state_dict written by Debian
// torch and prints the ratio to torch.load on the same file, measured in
// the same run. It skips without /usr/bin/python3 and torch.
func BenchmarkLoad(b *testing.B) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import torch").Run() != nil {
		b.Skip("python3-torch not available: no file and no peer")
	}
	path := filepath.Join(b.TempDir(), "bench.pt")
	out, err := exec.Command(py, "../../../scripts/fixtures/pickle_lmdb.py", "bench-torch", path).CombinedOutput()
	if err != nil {
		b.Fatalf("python: %v\n%s", err, out)
	}
	s := strings.TrimSpace(string(out))
	torchS, err := strconv.ParseFloat(strings.TrimPrefix(s[strings.LastIndex(s, "\n")+1:], "torch_load_s="), 64)
	if err != nil {
		b.Fatalf("python output %q", out)
	}
	// Best of the iterations, as the peer reports its best of 3: on a
	// shared machine the minimum is the least noisy estimate.
	goS := math.Inf(1)
	b.Run("go", func(b *testing.B) {
		b.SetBytes(32 * 1024 * 768 * 4)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			sd, err := Load(path, nil)
			if err != nil || len(sd) != 32 {
				b.Fatalf("%d tensors, %v", len(sd), err)
			}
			goS = min(goS, time.Since(start).Seconds())
		}
	})
	fmt.Printf("load 100 MB state_dict (best of runs): go=%.4fs torch=%.4fs ratio=%.2f (go/torch time, lower is better)\n", goS, torchS, goS/torchS)
}

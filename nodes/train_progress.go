package nodes

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"mmc/ml/train"
)

// epochBar shows training progress: on a terminal a bar per epoch with
// the running loss, throughput and ETA, redrawn at most ten times a
// second; elsewhere (logs, CI) one summary line per epoch.
type epochBar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	epochs   int
	batches  int
	lastDraw time.Time
	lossSum  float64
	lossN    int
	drawn    bool
}

func newEpochBar(w io.Writer, epochs, batches int) *epochBar {
	b := &epochBar{w: w, epochs: epochs, batches: batches}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.tty = true
	}
	return b
}

func (b *epochBar) step(s train.StepInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.Batch == 1 {
		b.lossSum, b.lossN = 0, 0
	}
	b.lossSum += s.Loss
	b.lossN++
	if !b.tty || (time.Since(b.lastDraw) < 100*time.Millisecond && s.Batch != s.Batches) {
		return
	}
	b.lastDraw = time.Now()
	secs := s.ElapsedInEpoch.Seconds()
	rate := float64(s.Examples) / max(secs, 1e-9)
	eta := time.Duration(secs / float64(s.Batch) * float64(s.Batches-s.Batch) * float64(time.Second))
	const width = 24
	filled := width * s.Batch / max(s.Batches, 1)
	bar := make([]byte, width)
	for i := range bar {
		switch {
		case i < filled:
			bar[i] = '='
		case i == filled:
			bar[i] = '>'
		default:
			bar[i] = ' '
		}
	}
	fmt.Fprintf(b.w, "\repoch %d/%d [%s] %d/%d loss %.4f lr %.2e %.1f memes/s eta %s   ",
		s.Epoch, b.epochs, bar, s.Batch, s.Batches, b.lossSum/float64(b.lossN), s.LR, rate, eta.Round(time.Second))
	b.drawn = true
}

func (b *epochBar) epoch(e train.Epoch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
	fmt.Fprintf(b.w, "epoch %d/%d: train loss %.4f, val loss %.4f, val AUROC %.4f, acc %.4f, F1 %.4f, %.1f memes/s, %.1fs\n",
		e.Epoch, b.epochs, e.TrainLoss, e.ValLoss, e.ValAUROC, e.ValAccuracy, e.ValF1, e.MemesPerSec, e.Seconds)
}

func (b *epochBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

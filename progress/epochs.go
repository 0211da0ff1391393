package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Epochs shows training progress: on a terminal a bar per epoch with
// the running loss, throughput and ETA, redrawn at most ten times a
// second; elsewhere (logs, CI) only the summary line of each epoch.
type Epochs struct {
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

// Step is one training step as the bar shows it.
type Step struct {
	Epoch, Batch, Batches int // Batch counts from 1 within the epoch
	Loss, LR              float64
	Examples              int // examples seen this epoch
	ElapsedInEpoch        time.Duration
}

// NewEpochs starts the bar of a training of epochs epochs of batches
// steps each, drawn on w when it is a terminal.
func NewEpochs(w io.Writer, epochs, batches int) *Epochs {
	b := &Epochs{w: w, epochs: epochs, batches: batches}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.tty = true
	}
	return b
}

// Step records a finished step and redraws the bar.
func (b *Epochs) Step(s Step) {
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

// EndEpoch ends the epoch's bar with its summary line
// ("epoch 3/30: " is prefixed).
func (b *Epochs) EndEpoch(epoch int, summary string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
	fmt.Fprintf(b.w, "epoch %d/%d: %s\n", epoch, b.epochs, summary)
}

// Finish ends a bar left drawn (a run stopped mid-epoch).
func (b *Epochs) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

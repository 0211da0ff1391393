// Package progress draws a one-line progress bar on a terminal and stays
// quiet elsewhere (logs, CI, pipes), where it writes one summary line
// when the work finishes.
//
//	bar := progress.New(os.Stderr, len(memes), "render images")
//	for range memes {
//		// ... work ...
//		bar.Add(1)
//	}
//	bar.Finish()
//
// A Bar is safe for concurrent use by the goroutines sharing the work.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar tracks progress towards a total.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	total    int
	label    string
	done     int
	start    time.Time
	lastDraw time.Time
	tty      bool
	width    int
	finished bool
	now      func() time.Time
	unit     string // when set, the line shows the rate in unit/s
}

// WithRate makes the bar show the throughput ("12.3 images/s") beside
// the elapsed time and ETA, and in the summary line. It returns b.
func (b *Bar) WithRate(unit string) *Bar {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unit = unit
	return b
}

// rate renders the throughput, or "" without a unit.
func (b *Bar) rate(elapsed time.Duration) string {
	if b.unit == "" || elapsed <= 0 {
		return ""
	}
	return fmt.Sprintf(" %.1f %s/s", float64(b.done)/elapsed.Seconds(), b.unit)
}

// New starts a bar for total steps, drawn on w when w is a terminal.
// A total of 0 or less draws a counter without percentage.
func New(w io.Writer, total int, label string) *Bar {
	b := &Bar{w: w, total: total, label: label, now: time.Now, width: 80}
	b.start = b.now()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			b.width = cols
		}
	}
	return b
}

// Add records n more finished steps.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if b.tty && !b.finished {
		now := b.now()
		// Redraw at most 10 times a second: drawing costs more than
		// the work unit for fine-grained loops.
		if now.Sub(b.lastDraw) >= 100*time.Millisecond || (b.total > 0 && b.done >= b.total) {
			b.lastDraw = now
			fmt.Fprint(b.w, "\r"+b.line(now))
		}
	}
}

// Done is the number of steps recorded so far.
func (b *Bar) Done() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

// Finish ends the bar: a final redraw and newline on a terminal, one
// summary line elsewhere. Calling Finish twice is harmless.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	now := b.now()
	if b.tty {
		fmt.Fprint(b.w, "\r"+b.line(now)+"\n")
		return
	}
	fmt.Fprintf(b.w, "%s: %s in %s%s\n", b.label, b.count(), now.Sub(b.start).Round(time.Millisecond), b.rate(now.Sub(b.start)))
}

func (b *Bar) count() string {
	if b.total > 0 {
		return fmt.Sprintf("%d/%d", b.done, b.total)
	}
	return fmt.Sprintf("%d", b.done)
}

// line renders "label [=====>    ] 42/100 1.2s eta 1.6s".
func (b *Bar) line(now time.Time) string {
	elapsed := now.Sub(b.start)
	tail := " " + b.count() + " " + elapsed.Round(100*time.Millisecond).String() + b.rate(elapsed)
	if b.total > 0 && b.done > 0 && b.done < b.total {
		eta := time.Duration(float64(elapsed) / float64(b.done) * float64(b.total-b.done))
		tail += " eta " + eta.Round(100*time.Millisecond).String()
	}
	if b.total <= 0 {
		return b.label + tail
	}
	barW := b.width - len(b.label) - len(tail) - 4
	if barW < 10 {
		return b.label + tail
	}
	filled := min(barW, barW*b.done/b.total)
	bar := strings.Repeat("=", filled)
	if filled < barW {
		bar += ">" + strings.Repeat(" ", barW-filled-1)
	}
	return fmt.Sprintf("%s [%s]%s", b.label, bar, tail)
}

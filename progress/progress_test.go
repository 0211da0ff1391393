package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuietWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 10, "render")
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Add(1) }()
	}
	wg.Wait()
	if buf.Len() != 0 {
		t.Errorf("drew on a non-terminal: %q", buf.String())
	}
	b.Finish()
	b.Finish()
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "render: 10/10 in ") {
		t.Errorf("summary = %q", out)
	}
	if b.Done() != 10 {
		t.Errorf("Done = %d", b.Done())
	}
}

func TestLine(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		total, done, width int
		elapsed            time.Duration
		want               string
	}{
		{100, 50, 60, 2 * time.Second, "train [" + strings.Repeat("=", 17) + ">" + strings.Repeat(" ", 16) + "] 50/100 2s eta 2s"},
		{100, 100, 60, 4 * time.Second, "train [" + strings.Repeat("=", 40) + "] 100/100 4s"},
		{0, 7, 60, time.Second, "train 7 1s"},
		{100, 10, 20, time.Second, "train 10/100 1s eta 9s"}, // too narrow for a bar
	}
	for _, c := range cases {
		b := &Bar{label: "train", total: c.total, done: c.done, width: c.width, start: start}
		if got := b.line(start.Add(c.elapsed)); got != c.want {
			t.Errorf("line(%d/%d, width %d) = %q, want %q", c.done, c.total, c.width, got, c.want)
		}
	}
}

func TestTerminalRedrawsAreThrottled(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &Bar{w: &buf, label: "x", total: 1000, width: 60, tty: true, start: now, now: func() time.Time { return now }}
	for i := 0; i < 999; i++ {
		b.Add(1) // the clock does not move: only the first add draws
	}
	if n := strings.Count(buf.String(), "\r"); n != 1 {
		t.Errorf("%d redraws, want 1", n)
	}
	b.Add(1) // reaching the total always draws
	b.Finish()
	if !strings.HasSuffix(buf.String(), "1000/1000 0s\n") {
		t.Errorf("final line %q", buf.String())
	}
}

package progress

import (
	"bytes"
	"testing"
	"time"
)

// TestEpochsOffTerminal: away from a terminal only the epoch summaries
// are written.
func TestEpochsOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	b := NewEpochs(&buf, 3, 2)
	for k := 1; k <= 2; k++ {
		b.Step(Step{Epoch: 1, Batch: k, Batches: 2, Loss: 0.5, LR: 1e-3, Examples: 16 * k, ElapsedInEpoch: time.Second})
	}
	b.EndEpoch(1, "train loss 0.5000")
	b.Finish()
	if got, want := buf.String(), "epoch 1/3: train loss 0.5000\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

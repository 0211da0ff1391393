package vilbert

import (
	"context"
	"errors"
	"testing"
)

// TestInterruptBetweenLayers: a context canceled during a forward pass
// ends it at the next encoder layer, not at the end of the step.
func TestInterruptBetweenLayers(t *testing.T) {
	m := tinyModel(t, HeadMMF)
	in := &Inputs{Batch: 1, TextLen: 2, Regions: 2, InputIDs: []int32{1, 2},
		Features: make([]float32, 2*m.Config.VFeatureSize), Locations: make([]float32, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	var tr Trainable = Trainable{M: m}
	tr.SetInterrupt(func() error {
		calls++
		if calls == 2 {
			cancel() // "Ctrl-C" while the first layer runs
		}
		return ctx.Err()
	})
	_, err := m.Forward(in, false, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Forward = %v, want context.Canceled", err)
	}
	if calls != 2 || len(m.Bert.Encoder.steps) <= 2 {
		t.Fatalf("stopped after %d of %d layers, want 2", calls, len(m.Bert.Encoder.steps))
	}
	tr.SetInterrupt(nil)
	if _, err := m.Forward(in, false, nil); err != nil {
		t.Fatal(err)
	}
}

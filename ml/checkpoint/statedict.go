// Package checkpoint reads and writes model weights: our safetensors
// files with a JSON sidecar, and PyTorch state_dicts. Every reader
// produces a StateDict, so model loading does not care where weights
// came from.
package checkpoint

import (
	"fmt"
	"sort"
)

// Array is one dense, row-major float32 tensor of a state_dict. Readers
// convert float16, bfloat16 and float64 to float32, and copy strided
// views into contiguous storage.
type Array struct {
	Shape []int
	Data  []float32
}

// NumElements is the product of Shape (1 for a 0-d tensor).
func (a *Array) NumElements() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Check reports a mismatch between Shape and len(Data).
func (a *Array) Check(key string) error {
	if n := a.NumElements(); n != len(a.Data) {
		return fmt.Errorf("tensor %q: shape %v holds %d values, have %d", key, a.Shape, n, len(a.Data))
	}
	return nil
}

// StateDict maps parameter names (PyTorch key layout, e.g.
// "bert.encoder.layer.0.attention.self.query.weight") to tensors.
type StateDict map[string]*Array

// Keys returns the names in sorted order, for deterministic iteration.
func (sd StateDict) Keys() []string {
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package nn

import (
	"testing"

	"mmc/ml/tensor"
)

// BenchmarkBertLayer is one BERT-base layer's forward and backward pass
// (batch 8 × 128 tokens, dropout on) with its state and scratch reused,
// as bench/bertlayer times it against PyTorch.
func BenchmarkBertLayer(b *testing.B) {
	const batch, tokens, hidden, heads, inter = 8, 128, 768, 12, 3072
	layer := NewBertLayer(hidden, heads, inter, 0.02, tensor.NewRNG(1))
	x, dy := weights(batch*tokens*hidden, 2), weights(batch*tokens*hidden, 3)
	var st LayerState
	var sc LayerScratch
	rng := tensor.NewRNG(4)
	b.SetBytes(int64(45e9)) // FLOPs of the products, so MB/s reads as MFLOP/s
	for b.Loop() {
		layer.Forward(&st, &sc, x, batch, tokens, nil, true, rng)
		layer.Backward(&st, &sc, dy, true, nil)
	}
}

// BenchmarkBertLayerFirst is BenchmarkBertLayer computing only each
// item's first position (ForwardFirst): the keys and values at every
// position, the rest on 8 rows. The ratio to BenchmarkBertLayer is what a
// pooled classifier saves in its last layer.
func BenchmarkBertLayerFirst(b *testing.B) {
	const batch, tokens, hidden, heads, inter = 8, 128, 768, 12, 3072
	layer := NewBertLayer(hidden, heads, inter, 0.02, tensor.NewRNG(1))
	x, dy := weights(batch*tokens*hidden, 2), weights(batch*hidden, 3)
	var st LayerState
	var sc LayerScratch
	rng := tensor.NewRNG(4)
	for b.Loop() {
		layer.ForwardFirst(&st, &sc, x, batch, tokens, nil, true, rng)
		layer.Backward(&st, &sc, dy, true, nil)
	}
}

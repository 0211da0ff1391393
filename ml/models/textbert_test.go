package models

import (
	"context"
	"testing"

	"mmc/ml/batch/batchtest"
	"mmc/ml/train"
)

func TestTextBERTLearnsAWordRule(t *testing.T) {
	// Label = which of two words the caption holds (token 1 after [CLS]).
	relabel := func(ex train.Examples) train.Examples {
		for _, e := range ex {
			e.Label = int(e.InputIDs[1] - 2000)
		}
		return ex
	}
	tr, val := relabel(batchtest.Toy(256, 21, 0)), relabel(batchtest.Toy(96, 22, 0))
	c := TextBERTConfig{VocabSize: 4000, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2,
		IntermediateSize: 32, MaxPositionEmbeddings: 8, TypeVocabSize: 2, Dropout: 0.1}
	m, err := NewTextBERT(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if ps[0].Name != "bert.embeddings.word_embeddings.weight" || ps[len(ps)-1].Name != "classifier.bias" {
		t.Fatalf("keys %q … %q, want Hugging Face BertForSequenceClassification names", ps[0].Name, ps[len(ps)-1].Name)
	}
	found := false
	for _, p := range ps {
		found = found || p.Name == "bert.encoder.layer.0.attention.self.query.weight"
	}
	if !found {
		t.Error("no bert.encoder.layer.0.attention.self.query.weight parameter")
	}
	// The loop tests' toy settings, with four epochs at a BERT-sized rate.
	cfg := train.Config{
		Epochs: 4, BatchSize: 16, Seed: 11, Workers: 2, Ahead: 3,
		Optimizer: train.OptimConfig{LR: 3e-3, Eps: 1e-8, WeightDecay: 0.01, WarmupSteps: 5},
		Loss:      train.LossConfig{Kind: train.LossCE},
	}
	opt, err := train.NewOptimizer(m, cfg, tr.Len())
	if err != nil {
		t.Fatal(err)
	}
	h, err := (&train.Trainer{Model: train.Autograd(m), Optimizer: opt, Config: cfg}).Run(context.Background(), tr, val)
	if err != nil {
		t.Fatal(err)
	}
	if h.BestAUROC < 0.95 {
		t.Errorf("TextBERT val AUROC %.3f on a one-word rule, want ≥ 0.95: %+v", h.BestAUROC, h.Epochs)
	}
}

func TestTextBERTConfigErrors(t *testing.T) {
	ok := TextBERTConfig{VocabSize: 10, HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 8, MaxPositionEmbeddings: 4, TypeVocabSize: 2}
	for _, edit := range []func(*TextBERTConfig){
		func(c *TextBERTConfig) { c.HiddenSize = 9 },
		func(c *TextBERTConfig) { c.VocabSize = 0 },
		func(c *TextBERTConfig) { c.Dropout = 1 },
	} {
		c := ok
		edit(&c)
		if _, err := NewTextBERT(c, 1); err == nil {
			t.Errorf("NewTextBERT accepted %+v", c)
		}
	}
	if _, err := NewTextBERT(ok, 1); err != nil {
		t.Fatal(err)
	}
}

package models

import (
	"fmt"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/ml/train"
)

// textBERTModel is TextBERT behind the autograd adapter, kept typed for
// weight loading.
type textBERTModel struct {
	train.Model
	net *TextBERT
}

// Info describes the "text_bert" kind: caption tokens only; a missing
// init_weights file is an error (BERT from scratch on a few thousand
// memes is rarely what was meant).
func (TextBERTConfig) Info() Info {
	return Info{
		Doc:         "BERT on the caption alone (the Hateful Memes paper's Text BERT baseline)",
		Inputs:      Inputs{Text: true},
		InitSources: "place bert-base-uncased's pytorch_model.bin or model.safetensors there",
	}
}

// New builds TextBERT; it reads no region features.
func (c TextBERTConfig) New(_ int, seed uint64) (train.Model, error) {
	if c == (TextBERTConfig{}) {
		return nil, fmt.Errorf("text_bert: no sizes given (model.text_bert is empty or missing)")
	}
	m, err := NewTextBERT(c, seed)
	if err != nil {
		return nil, err
	}
	return &textBERTModel{Model: train.Autograd(m), net: m}, nil
}

// LoadPretrained copies a BERT checkpoint (Hugging Face layout, with or
// without the "bert." prefix) into the encoder; the classifier keeps its
// fresh initialisation. Every encoder parameter must be present.
func (TextBERTConfig) LoadPretrained(m train.Model, sd checkpoint.StateDict) (string, error) {
	tb, ok := m.(*textBERTModel)
	if !ok {
		return "", fmt.Errorf("text_bert weights into a %T", m)
	}
	loaded := 0
	for _, p := range tb.net.Params() {
		if strings.HasPrefix(p.Name, "classifier.") {
			continue
		}
		a, ok := sd[p.Name]
		if !ok {
			a, ok = sd[strings.TrimPrefix(p.Name, "bert.")]
		}
		if !ok {
			return "", fmt.Errorf("no tensor %q (nor without the bert. prefix)", p.Name)
		}
		if len(a.Data) != len(p.Tensor.Data) {
			return "", fmt.Errorf("%q has shape %v, model %v", p.Name, a.Shape, p.Tensor.Shape)
		}
		copy(p.Tensor.Data, a.Data)
		loaded++
	}
	return fmt.Sprintf("%d BERT tensors loaded, classifier initialised", loaded), nil
}

// LoadTrained loads a text_bert checkpoint by parameter name.
func (TextBERTConfig) LoadTrained(m train.Model, sd checkpoint.StateDict) (LoadReport, error) {
	return loadParams(m.Params(), sd)
}

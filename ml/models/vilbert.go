package models

import (
	"fmt"

	"mmc/ml/checkpoint"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// ViLBERTParams are the "vilbert" kind's parameters: ml/vilbert's
// configuration (sizes, head, fusion, region convention), with the
// same keys as vilbert-multi-task's JSON files.
type ViLBERTParams struct {
	vilbert.Config
}

// Info describes the kind: text and regions in, a missing init_weights
// file trains from scratch.
func (ViLBERTParams) Info() Info {
	return Info{
		Doc:                "ViLBERT (two streams with co-attention) on caption tokens and region features",
		Inputs:             Inputs{Text: true, Regions: true},
		ScratchWithoutInit: true,
		InitSources:        "place the Conceptual Captions checkpoint or bert-base-uncased there, or run vilbert_pretrain",
	}
}

// New builds the model behind vilbert.Trainable; the region features
// must be v_feature_size wide.
func (c ViLBERTParams) New(featDim int, seed uint64) (train.Model, error) {
	if featDim > 0 && c.VFeatureSize != featDim {
		return nil, fmt.Errorf("vilbert: v_feature_size %d but the region features are %d wide", c.VFeatureSize, featDim)
	}
	m, err := vilbert.New(c.Config, seed)
	if err != nil {
		return nil, err
	}
	return vilbert.Trainable{M: m}, nil
}

// LoadPretrained loads the encoder from a ViLBERT, MMF or BERT
// checkpoint (see vilbert.Model.LoadStateDict); the classifier keeps its
// fresh initialisation. Every encoder key must be present.
func (ViLBERTParams) LoadPretrained(m train.Model, sd checkpoint.StateDict) (string, error) {
	vm, err := asViLBERT(m)
	if err != nil {
		return "", err
	}
	rep, err := vm.LoadStateDict(sd, vilbert.LoadOptions{SkipClassifier: true})
	if err != nil {
		return "", err
	}
	if len(rep.Missing) > 0 {
		return "", fmt.Errorf("%d model keys missing (first %q)", len(rep.Missing), rep.Missing[0])
	}
	return rep.String(), nil
}

// LoadTrained loads a fine-tuned checkpoint, ours or MMF's
// (model.bert.* keys): every parameter, the classifier included.
func (ViLBERTParams) LoadTrained(m train.Model, sd checkpoint.StateDict) (LoadReport, error) {
	vm, err := asViLBERT(m)
	if err != nil {
		return LoadReport{}, err
	}
	rep, err := vm.LoadStateDict(sd, vilbert.LoadOptions{})
	if err != nil {
		return LoadReport{}, err
	}
	if len(rep.Missing) > 0 || len(rep.Initialised) > 0 {
		absent := append(append([]string(nil), rep.Missing...), rep.Initialised...)
		return LoadReport{}, fmt.Errorf("%s; absent from the checkpoint: %s", rep, quoteList(absent, 10))
	}
	return LoadReport{Loaded: len(rep.Loaded), Extra: rep.Unexpected}, nil
}

func asViLBERT(m train.Model) (*vilbert.Model, error) {
	t, ok := m.(vilbert.Trainable)
	if !ok {
		return nil, fmt.Errorf("vilbert weights into a %T", m)
	}
	return t.M, nil
}

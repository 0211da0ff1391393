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
	// FeatureProjection is how region features wider or narrower than
	// v_feature_size reach the visual embedding: "trainable" (default),
	// "fixed" (seeded and frozen) or "none" (the widths must match).
	// Features already v_feature_size wide are never projected.
	FeatureProjection string `yaml:"feature_projection" json:"feature_projection,omitempty"`
	// ProjectionSeed seeds the projection's initialisation (0: the
	// training seed).
	ProjectionSeed uint64 `yaml:"projection_seed" json:"projection_seed,omitempty"`
}

// Info describes the kind: text and regions in, a missing init_weights
// file trains from scratch.
func (ViLBERTParams) Info() Info {
	return Info{
		Doc:         "ViLBERT (two streams with co-attention) on caption tokens and region features",
		Inputs:      Inputs{Text: true, Regions: true},
		InitSources: "place the Conceptual Captions checkpoint (vilbert-multi-task's pretrained_model.bin) there as weights/vilbert_pretrained_cc.bin, or bert-base-uncased's pytorch_model.bin, or run vilbert_pretrain",
	}
}

// New builds the model behind vilbert.Trainable; region features of
// another width than v_feature_size go through a feature projection
// (a *ProjectedViLBERT) unless feature_projection is none.
func (c ViLBERTParams) New(featDim int, seed uint64) (train.Model, error) {
	mode, err := c.projectionMode()
	if err != nil {
		return nil, err
	}
	project := featDim > 0 && c.VFeatureSize != featDim
	if project && mode == ProjectionNone {
		return nil, fmt.Errorf("vilbert: v_feature_size %d but the region features are %d wide (feature_projection: none; set it to trainable or fixed)", c.VFeatureSize, featDim)
	}
	m, err := vilbert.New(c.Config, seed)
	if err != nil {
		return nil, err
	}
	t := vilbert.Trainable{M: m}
	if !project {
		return t, nil
	}
	ps := c.ProjectionSeed
	if ps == 0 {
		ps = seed
	}
	return newProjected(t, featDim, c.VFeatureSize, mode, ps), nil
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
	out := LoadReport{Loaded: len(rep.Loaded), Extra: rep.Unexpected}
	if p, ok := m.(*ProjectedViLBERT); ok {
		if err := p.loadProjection(sd); err != nil {
			return LoadReport{}, fmt.Errorf("feature projection: %w", err)
		}
		out.Loaded += 2
		out.Extra = withoutProjection(out.Extra)
	}
	return out, nil
}

func asViLBERT(m train.Model) (*vilbert.Model, error) {
	switch t := m.(type) {
	case vilbert.Trainable:
		return t.M, nil
	case *ProjectedViLBERT:
		return t.Inner.M, nil
	}
	return nil, fmt.Errorf("vilbert weights into a %T", m)
}

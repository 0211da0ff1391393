package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"mmc/features"
	"mmc/features/extract"
	"mmc/memes"
	"mmc/ml/batch"
	"mmc/ml/metrics"
	"mmc/ml/models"
	"mmc/progress"
)

// InferenceReport summarises predictions over a split: how many memes,
// and the metrics when every meme has a label.
type InferenceReport struct {
	Split    string          `json:"split"`
	Memes    int             `json:"memes"`
	Labelled bool            `json:"labelled"`
	Metrics  *metrics.Binary `json:"metrics,omitempty"`
}

// InferenceSummary scores predictions when the split is labelled and
// only counts them otherwise.
func InferenceSummary(ctx context.Context, p EvalParams, pr Predictions) (InferenceReport, error) {
	rep := InferenceReport{Split: p.Split, Memes: len(pr.IDs), Labelled: true}
	for _, y := range pr.Labels {
		if y == batch.NoLabel {
			rep.Labelled = false
			return rep, nil
		}
	}
	m, err := EvaluatePredictions(ctx, pr)
	if err != nil {
		return rep, err
	}
	rep.Metrics = &m
	return rep, nil
}

// LocalParams is one meme given on the command line
// (--params inference_local.image=PATH,inference_local.text="…").
type LocalParams struct {
	Image string     `yaml:"image"` // image path; its file stem is the feature store key (MMF's feature_path)
	Text  string     `yaml:"text"`
	Data  DataParams `yaml:"data"`
}

// LocalPrediction is the result for one meme.
type LocalPrediction struct {
	Image string  `json:"image"`
	Text  string  `json:"text"`
	Proba float64 `json:"proba"` // softmax P(hateful)
	Label int     `json:"label"`
}

// PredictLocal classifies one meme and returns the probability (the
// pipeline saves it as prediction.json). Its region features come from
// the configured store under the image's file stem when the store holds
// them and was made by the extractor the checkpoint was trained on (or
// the checkpoint records no extractor); otherwise, when the checkpoint
// records its extractor (the extract-then-train pipelines do), that
// extractor runs on the image, as the original project did, so any new
// meme is classified with one command. The image must exist and decode:
// a stem alone would find the features of whatever picture once had
// that name.
func PredictLocal(ctx context.Context, p LocalParams, tm models.Trained, store features.Maybe) (LocalPrediction, error) {
	if p.Image == "" {
		return LocalPrediction{}, fmt.Errorf("inference_local: no image given (--params inference_local.image=PATH,inference_local.text=\"...\")")
	}
	data, err := os.ReadFile(p.Image)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local: image %s: %w", p.Image, err)
	}
	px, err := memes.DecodeImage(data)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local: image %s is not a readable PNG or JPEG: %w", p.Image, err)
	}
	mp, err := tm.Params()
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local: %w", err)
	}
	stem := filepath.Base(p.Image)
	m := memes.Meme{ID: memes.ID(stem), Img: p.Image, Text: p.Text}
	feats, err := localFeatures(ctx, mp.Extractor, store, m, px)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local %s: %w", p.Image, err)
	}
	pr, err := PredictSplit(ctx, EvalParams{Data: p.Data, BatchSize: 1, Workers: 1}, tm, []memes.Meme{m}, feats)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local %s: %w", p.Image, err)
	}
	prob := metrics.ProbHateful(float64(pr.Logits[0]), float64(pr.Logits[1]))
	return LocalPrediction{Image: p.Image, Text: p.Text, Proba: prob, Label: metrics.PredictProba(prob)}, nil
}

// storeProvenance is a feature store that records its extractor
// (h5store.Store).
type storeProvenance interface {
	Extractor() string
	ExtractorParams() (map[string]any, error)
}

// extractorOf returns the extractor a feature store records, or nil.
func extractorOf(feats features.Reader) *models.ExtractorRecord {
	s, ok := feats.(storeProvenance)
	if !ok || s.Extractor() == "" {
		return nil
	}
	params, err := s.ExtractorParams()
	if err != nil {
		return nil
	}
	return &models.ExtractorRecord{Name: s.Extractor(), Params: params}
}

// sameExtractor reports whether the store was made by ex.
func sameExtractor(store features.Reader, ex *models.ExtractorRecord) bool {
	got := extractorOf(store)
	if got == nil || got.Name != ex.Name {
		return false
	}
	a, _ := json.Marshal(got.Params)
	b, _ := json.Marshal(ex.Params)
	return string(a) == string(b)
}

// localFeatures finds or computes the features of one meme's image.
func localFeatures(ctx context.Context, ex *models.ExtractorRecord, store features.Maybe, m memes.Meme, px *image.RGBA) (features.Reader, error) {
	id := features.FeaturePath(m.Img)
	// An extractor mmc can run (not, say, MMF's detector that made a
	// store) is used when the store lacks the image or was made by
	// another extractor.
	runnable := ex != nil && slices.Contains(extract.Names(), ex.Name)
	if store.Reader != nil && (!runnable || sameExtractor(store.Reader, ex)) {
		if _, err := store.Reader.Get(id); err == nil || !runnable {
			return store.Reader, nil
		}
	}
	if !runnable {
		why := "the checkpoint records no image feature extractor to compute them with"
		if ex != nil {
			why = fmt.Sprintf("the checkpoint's features came from %q, which is not an extractor mmc runs", ex.Name)
		}
		return nil, fmt.Errorf("%s, and %s (train with an extract-then-train pipeline, or point vilbert_inference_local.region_features at features of this image)", store.Missing, why)
	}
	k, err := rebuildExtractor(ex)
	if err != nil {
		return nil, err
	}
	progress.Logf("inference_local: extracting the image's features with %s, the checkpoint's extractor", ex.Name)
	e, err := k.New(filepath.Dir(m.Img))
	if err != nil {
		return nil, fmt.Errorf("the checkpoint's extractor %s: %w", ex.Name, err)
	}
	recs, err := e.Extract(ctx, []extract.Image{{ID: id, Path: m.Img, Pixels: px}})
	if err != nil {
		return nil, fmt.Errorf("the checkpoint's extractor %s: %w", ex.Name, err)
	}
	if len(recs) != 1 {
		return nil, fmt.Errorf("the checkpoint's extractor %s: %d records for one image", ex.Name, len(recs))
	}
	recs[0].ID = id
	return &memoryFeatures{recs: map[string]*features.Record{id: recs[0]}, ids: []string{id}}, nil
}

// rebuildExtractor makes the extractor a checkpoint records: its name
// and parameters as the store recorded them. Features of the random demo
// backbone are reproduced with the same random backbone.
func rebuildExtractor(ex *models.ExtractorRecord) (extract.Kind, error) {
	b, err := json.Marshal(map[string]any{ex.Name: ex.Params})
	if err != nil {
		return nil, fmt.Errorf("the checkpoint's extractor %s: %w", ex.Name, err)
	}
	p := extract.Params{Name: ex.Name}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("the checkpoint's extractor %s: parameters %s: %w", ex.Name, b, err)
	}
	if bb, _ := ex.Params["backbone"].(string); strings.HasPrefix(bb, "random") {
		p = p.WithMissingWeights(extract.MissingWeightsRandom)
	}
	return p.Selected()
}

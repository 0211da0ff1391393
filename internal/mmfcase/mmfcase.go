// Package mmfcase reads the tiny MMF checkpoint test case
// (nodes/testdata/mmf_tiny_case.json, written with
// mmf_tiny_finetuned.pth by scripts/fixtures/mmf_checkpoint.py): memes,
// their region features, and torch's token ids, logits and
// probabilities. Tests of nodes and pipelines share it.
package mmfcase

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"mmc/features"
	"mmc/memes"
)

// Case is the JSON file's content.
type Case struct {
	MaxSeqLength int          `json:"max_seq_length"`
	MaxFeatures  int          `json:"max_features"`
	Memes        []memes.Meme `json:"memes"`
	Records      []struct {
		ID       string    `json:"id"`
		ImageW   int       `json:"image_w"`
		ImageH   int       `json:"image_h"`
		NumBoxes int       `json:"num_boxes"`
		Dim      int       `json:"dim"`
		Features []float32 `json:"features"`
		Boxes    []float32 `json:"boxes"`
	} `json:"records"`
	InputIDs [][]int32    `json:"input_ids"`
	Logits   [][2]float64 `json:"logits"`
	Proba    []float64    `json:"proba"`
}

// Dir is the absolute path of the folder holding the fixture files
// (mmf_tiny_case.json, mmf_tiny_finetuned.pth, mmf_tiny_config.json).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "nodes", "testdata")
}

// Read reads the case from Dir.
func Read() (Case, error) {
	path := filepath.Join(Dir(), "mmf_tiny_case.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return Case{}, err
	}
	var c Case
	if err := json.Unmarshal(b, &c); err != nil {
		return Case{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// FeatureRecords returns the case's region features as records.
func (c Case) FeatureRecords() []*features.Record {
	recs := make([]*features.Record, len(c.Records))
	for i, r := range c.Records {
		recs[i] = &features.Record{ID: r.ID, Dim: r.Dim, NumBoxes: r.NumBoxes, Features: r.Features,
			Boxes: r.Boxes, ImageW: r.ImageW, ImageH: r.ImageH}
	}
	return recs
}

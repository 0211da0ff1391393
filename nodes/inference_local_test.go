package nodes

import (
	"context"
	"image"
	"strings"
	"testing"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/models"
)

// TestLocalFeaturesSource: where inference_local takes one image's
// features from, by what the checkpoint records and what the store holds.
func TestLocalFeaturesSource(t *testing.T) {
	ctx := context.Background()
	m := memes.Meme{ID: "7", Img: "img/07.png"}
	px := image.NewRGBA(image.Rect(0, 0, 60, 40))
	rec := &features.Record{ID: "07", Dim: 2, NumBoxes: 1, ImageW: 60, ImageH: 40, Features: []float32{1, 2}, Boxes: []float32{0, 0, 60, 40}}
	store := &memoryFeatures{recs: map[string]*features.Record{"07": rec}, ids: []string{"07"}}
	dino := &models.ExtractorRecord{Name: "dinov2", Params: map[string]any{
		"weights": "weights/absent.pth", "image_size": 56.0, "max_regions": 4.0, "region_selection": "interpolate",
		"backbone": "random demo backbone (seed 1)"}}
	mmf := &models.ExtractorRecord{Name: "MMF detectron", Params: map[string]any{}}

	for _, tc := range []struct {
		name    string
		ex      *models.ExtractorRecord
		store   features.Maybe
		wantDim int    // 2: the store's record; 128: the demo ViT's
		err     string // expected error
	}{
		{"no extractor recorded, store", nil, features.Maybe{Reader: store}, 2, ""},
		{"foreign extractor, store", mmf, features.Maybe{Reader: store}, 2, ""},
		{"no extractor, no store", nil, features.Maybe{Missing: "region features x.lmdb do not exist"}, 0, "records no image feature extractor"},
		{"foreign extractor, no store", mmf, features.Maybe{Missing: "region features x.lmdb do not exist"}, 0, `"MMF detectron"`},
		{"runnable extractor, store of another", dino, features.Maybe{Reader: store}, 128, ""},
		{"runnable extractor, no store", dino, features.Maybe{Missing: "absent"}, 128, ""},
	} {
		r, err := localFeatures(ctx, tc.ex, tc.store, m, px)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v; want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := r.Get("07")
		if err != nil || got.Dim != tc.wantDim || got.ImageW != 60 {
			t.Errorf("%s: record %+v, %v; want %d-wide features of the 60×40 image", tc.name, got, err, tc.wantDim)
		}
	}
}

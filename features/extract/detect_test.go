package extract

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmc/features"
	"mmc/features/h5store"
	"mmc/features/lmdbstore"
)

func detectTestImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	return img
}

// TestDetectorExtractors builds each detector extractor on its random
// demo weights and checks the records: max_regions regions of the
// detector's width, boxes inside the image, the detected count and a
// class per region.
func TestDetectorExtractors(t *testing.T) {
	base := DetectorParams{MaxRegions: 5, ConfidenceThreshold: 0.2, MinSize: 64, MaxSize: 96}
	random := Backbone{Weights: "testdata/absent.pth", MissingWeights: MissingWeightsRandom}
	vg := VGParams{PreNMSTopN: 200, PostNMSTopN: 16, RoISize: 4, ClsProb: true}
	kinds := map[string]Kind{
		"frcnn":           FRCNN{random, base, FPNParams{}},
		"frcnn_resnet152": FRCNNResNet152{random, base, FPNParams{PreNMSTopN: 100, PostNMSTopN: 50}},
		"vg":              VG{random, base, vg},
		"vg_rpn":          VGRPN{random, base, vg},
	}
	batch := []Image{{ID: "1", Path: "img/1.png", Pixels: detectTestImage(80, 60)}, {ID: "2", Path: "img/2.png", Pixels: detectTestImage(50, 90)}}
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			e, err := k.New("")
			if err != nil {
				t.Fatal(err)
			}
			if e.MaxRegions() != 5 {
				t.Fatalf("max regions %d, want 5", e.MaxRegions())
			}
			recs, err := e.Extract(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if err := r.Validate(); err != nil {
					t.Fatal(err)
				}
				img := batch[i].Pixels.Bounds()
				if r.ID != batch[i].ID || r.NumBoxes != 5 || r.Dim != 512 || r.ImageW != img.Dx() || r.ImageH != img.Dy() || r.Detected > 5 || len(r.Objects) != 5 {
					t.Fatalf("record %s: %d boxes of %d, image %d×%d, %d detected, %d objects", r.ID, r.NumBoxes, r.Dim, r.ImageW, r.ImageH, r.Detected, len(r.Objects))
				}
				if strings.HasPrefix(name, "vg") != (len(r.ClsProb) == 5*21) {
					t.Fatalf("record %s: %d class probabilities", r.ID, len(r.ClsProb))
				}
				for j := 0; j < len(r.Boxes); j += 4 {
					b := r.Boxes[j : j+4]
					if b[0] < 0 || b[1] < 0 || b[2] > float32(r.ImageW)+1e-3 || b[3] > float32(r.ImageH)+1e-3 || b[2] < b[0] || b[3] < b[1] {
						t.Fatalf("record %s: box %v outside the %d×%d image", r.ID, b, r.ImageW, r.ImageH)
					}
				}
			}
			checkStoresKeepDetected(t, recs)
		})
	}
}

func TestDetectorExtractorsRegistered(t *testing.T) {
	names := Names()
	for _, n := range []string{"frcnn", "frcnn_resnet152", "vg", "vg_rpn"} {
		if !slices.Contains(names, n) {
			t.Errorf("extractor %s not registered (have %v)", n, names)
		}
	}
}

func TestDetectorMissingWeights(t *testing.T) {
	_, err := FRCNN{Backbone: Backbone{Weights: "testdata/absent.pth"}}.New("")
	if err == nil || !strings.Contains(err.Error(), "absent.pth") || !strings.Contains(err.Error(), "fasterrcnn_resnet50_fpn_coco") {
		t.Fatalf("missing weights: %v", err)
	}
	_, err = VG{Backbone: Backbone{Weights: "testdata/absent.pth", MissingWeights: MissingWeightsRandom}, DetectorParams: DetectorParams{ConfidenceThreshold: 2}}.New("")
	if err == nil || !strings.Contains(err.Error(), "confidence_threshold") {
		t.Fatalf("bad threshold: %v", err)
	}
}

// checkStoresKeepDetected writes the records to both feature stores and
// reads their detected counts back.
func checkStoresKeepDetected(t *testing.T, recs []*features.Record) {
	t.Helper()
	dir := t.TempDir()
	hw, err := h5store.Create(filepath.Join(dir, "f.h5"), &h5store.Options{Regions: 5})
	if err != nil {
		t.Fatal(err)
	}
	lw, err := lmdbstore.Create(filepath.Join(dir, "f.lmdb"), &lmdbstore.Options{MapSize: 1 << 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := hw.Put(r); err != nil {
			t.Fatal(err)
		}
		if err := lw.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	hs, err := h5store.Open(filepath.Join(dir, "f.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	ls, err := lmdbstore.Open(filepath.Join(dir, "f.lmdb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	for _, r := range recs {
		for _, s := range []features.Reader{hs, ls} {
			got, err := s.Get(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Detected != r.Detected {
				t.Errorf("%v: record %s: %d detected, want %d", s, r.ID, got.Detected, r.Detected)
			}
		}
	}
}

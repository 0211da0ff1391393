package extract

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mmc/config"
)

func TestVisionExtractorsRegistered(t *testing.T) {
	want := []string{"synthetic", "resnet152_grid", "resnet152_roi", "resnet_vg", "dinov2", "dinov2_multilayer"}
	if got := Names(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("Names() = %v, want %v first", got, want)
	}
}

func testImage() Image {
	px := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			px.Set(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), uint8(x * y), 255})
		}
	}
	return Image{ID: "img1", Path: "img/img1.png", Pixels: px}
}

// TestVisionExtractorWeights: a checkpoint present is loaded (its size
// inferred: the small fixtures of ml/vision), a missing one is an error
// naming the file and where it comes from, or with missing_weights:
// random the small random backbone; records carry the image's id and
// size; the provenance says which backbone made them.
func TestVisionExtractorWeights(t *testing.T) {
	fixtures := filepath.Join("..", "..", "ml", "vision", "testdata")
	missing := filepath.Join(t.TempDir(), "absent.pth")
	for _, tc := range []struct {
		name, yaml string
		regions    int
	}{
		{"resnet152_grid", "weights: " + filepath.Join(fixtures, "resnet_bottleneck.pth") + "\nimage_size: 64\ngrid_size: 2", 4},
		{"resnet_vg", "weights: " + filepath.Join(fixtures, "resnet_vg.pth") + "\nimage_size: 64\ngrid_size: 3", 9},
		{"resnet152_roi", "weights: " + filepath.Join(fixtures, "resnet_bottleneck.pth") + "\nimage_size: 96\nroi_size: 4\nscales: [0.5, 1.0]\nboxes_per_side: [2, 1]", 5},
		{"dinov2", "weights: " + filepath.Join(fixtures, "dinov2_reg4.pth") + "\nimage_size: 56\nmax_regions: 4", 4},
		{"dinov2_multilayer", "weights: " + filepath.Join(fixtures, "dinov2_reg0.pth") + "\nimage_size: 56\nmax_regions: 4\nlayers: [1, 2]", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeParams(t, "name: "+tc.name+"\n"+tc.name+":\n  "+strings.ReplaceAll(tc.yaml, "\n", "\n  "))
			k, err := p.Selected()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(k.(interface{ BackboneID() string }).BackboneID(), "checkpoint ") {
				t.Errorf("backbone %q, want the checkpoint", k.(interface{ BackboneID() string }).BackboneID())
			}
			e, err := k.New("")
			if err != nil {
				t.Fatal(err)
			}
			recs, err := e.Extract(context.Background(), []Image{testImage()})
			if err != nil {
				t.Fatal(err)
			}
			r := recs[0]
			if r.ID != "img1" || r.ImageW != 40 || r.ImageH != 30 || r.NumBoxes != tc.regions || e.MaxRegions() != tc.regions || r.Validate() != nil {
				t.Errorf("record %s %d×%d, %d regions of %d (max %d): %v", r.ID, r.ImageW, r.ImageH, r.NumBoxes, r.Dim, e.MaxRegions(), r.Validate())
			}

			// The same parameters with the file gone.
			p2 := decodeParams(t, "name: "+tc.name+"\n"+tc.name+":\n  weights: "+missing)
			k2, _ := p2.Selected()
			if _, err := k2.New(""); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "missing_weights: random") {
				t.Errorf("missing weights: %v; want an error naming the file and missing_weights: random", err)
			}
			if err := k2.(interface{ Check() error }).Check(); err == nil {
				t.Error("Check passed without the weight file")
			}
			size := "56"
			if tc.name == "resnet152_roi" {
				size = "96"
			}
			p3 := decodeParams(t, "name: "+tc.name+"\n"+tc.name+":\n  weights: "+missing+"\n  missing_weights: random\n  image_size: "+size)
			k3, _ := p3.Selected()
			e3, err := k3.New("")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e3.Extract(context.Background(), []Image{testImage()}); err != nil {
				t.Fatal(err)
			}
			_, prov, err := p3.Provenance()
			if err != nil || prov["weights"] != missing || prov["missing_weights"] != nil {
				t.Errorf("provenance %v, %v", prov, err)
			}
			if id := k3.(interface{ BackboneID() string }).BackboneID(); !strings.HasPrefix(id, "random") {
				t.Errorf("backbone %q, want the random one", id)
			}
		})
	}
}

func decodeParams(t *testing.T, yml string) Params {
	t.Helper()
	tree, err := config.ParseFile("p.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var p Params
	if err := config.Decode(tree, "", &p); err != nil {
		t.Fatal(err)
	}
	return p
}

package vision

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mmc/features"
	"mmc/ml/checkpoint/pytorch"
)

func extractOne(t *testing.T, e Extractor, img image.Image) features.Record {
	t.Helper()
	recs, err := e.Extract(context.Background(), []image.Image{img, img, img})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records for 3 images", len(recs))
	}
	if e.MaxRegions() != recs[0].NumBoxes {
		t.Fatalf("MaxRegions %d, record has %d", e.MaxRegions(), recs[0].NumBoxes)
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			t.Fatal(err)
		}
		if recs[i].Dim != e.Dim() {
			t.Fatalf("record dim %d, extractor says %d", recs[i].Dim, e.Dim())
		}
	}
	// buffers reused across images must not change the answer; images
	// that share products (resnet152_roi pairs the first two in layer3)
	// may differ from a lone one by float32 rounding in the summation order
	closeTo(t, "second image", recs[1].Features, recs[0].Features, 1e-6)
	closeTo(t, "third image", recs[2].Features, recs[0].Features, 1e-6)
	return recs[0]
}

func TestGridExtractorsMatchTorch(t *testing.T) {
	img := testImage(t, "meme.png")
	for _, tc := range []struct {
		name, weights, want string
		load                func(GridParams, string) (*ResNetGrid, error)
	}{
		{"resnet152_grid", "resnet_bottleneck.pth", "grid.features", NewResNet152Grid},
		{"resnet_vg", "resnet_vg.pth", "vg.features", NewResNetVG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tc.load(GridParams{ImageSize: 192}, "testdata/"+tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name() != tc.name {
				t.Errorf("name %q", e.Name())
			}
			r := extractOne(t, e, img)
			if r.NumBoxes != 36 || r.ImageW != 90 || r.ImageH != 70 {
				t.Fatalf("%d boxes, image %d×%d", r.NumBoxes, r.ImageW, r.ImageH)
			}
			closeTo(t, "features", r.Features, want(t, tc.want).Data, 1e-4)
			closeTo(t, "boxes", r.Boxes, want(t, "grid.boxes").Data, 1e-6)
		})
	}
}

func TestGridCenterCropMatchesTorch(t *testing.T) {
	e, err := NewResNet152Grid(GridParams{ImageSize: 192, Resize: "center_crop"}, "testdata/resnet_bottleneck.pth")
	if err != nil {
		t.Fatal(err)
	}
	r := extractOne(t, e, testImage(t, "meme.png"))
	closeTo(t, "features", r.Features, want(t, "grid.crop.features").Data, 1e-4)
	closeTo(t, "boxes", r.Boxes, want(t, "grid.crop.boxes").Data, 1e-6)
	if _, err := NewResNet152Grid(GridParams{Resize: "stretch"}, "testdata/resnet_bottleneck.pth"); err == nil {
		t.Error("unknown resize mode accepted")
	}
}

func TestRoIExtractorMatchesTorch(t *testing.T) {
	e, err := NewResNet152RoI(RoIParams{ImageSize: 160}, "testdata/resnet_bottleneck.pth")
	if err != nil {
		t.Fatal(err)
	}
	r := extractOne(t, e, testImage(t, "meme.png"))
	if r.NumBoxes != 36 {
		t.Fatalf("%d boxes", r.NumBoxes)
	}
	closeTo(t, "features", r.Features, want(t, "roi.features").Data, 1e-4)
	closeTo(t, "boxes", r.Boxes, want(t, "roi.boxes").Data, 1e-6)
}

func TestMultiScaleBoxes(t *testing.T) {
	b, err := MultiScaleBoxes(600, []float64{0.25, 0.5, 0.75, 1}, []int{5, 3, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 36*4 {
		t.Fatalf("%d boxes", len(b)/4)
	}
	// first: top-left quarter-size box; 25th: the last of the 5×5; 35th: centred 0.75; 36th: whole image
	for i, want := range map[int][4]float32{0: {0, 0, 150, 150}, 24: {450, 450, 600, 600}, 25: {0, 0, 300, 300}, 34: {75, 75, 525, 525}, 35: {0, 0, 600, 600}} {
		if got := [4]float32(b[4*i : 4*i+4]); got != want {
			t.Errorf("box %d = %v, want %v", i, got, want)
		}
	}
	if _, err := MultiScaleBoxes(600, []float64{0.5}, []int{2, 2}); err == nil {
		t.Error("mismatched scales accepted")
	}
}

func TestDINOv2ExtractorsMatchTorch(t *testing.T) {
	img := testImage(t, "meme.png")
	for _, reg := range []int{0, 4} {
		p := fmt.Sprintf("dino%d.", reg)
		w := fmt.Sprintf("testdata/dinov2_reg%d.pth", reg)
		t.Run(fmt.Sprintf("interpolate/reg%d", reg), func(t *testing.T) {
			e, err := NewDINOv2(DINOv2Params{ImageSize: 112}, w)
			if err != nil {
				t.Fatal(err)
			}
			r := extractOne(t, e, img)
			closeTo(t, "features", r.Features, want(t, p+"interp.features").Data, 1e-4)
			closeTo(t, "boxes", r.Boxes, want(t, p+"interp.boxes").Data, 1e-6)
		})
		t.Run(fmt.Sprintf("attention/reg%d", reg), func(t *testing.T) {
			e, err := NewDINOv2(DINOv2Params{ImageSize: 112, MaxRegions: 10, RegionSelection: "attention"}, w)
			if err != nil {
				t.Fatal(err)
			}
			r := extractOne(t, e, img)
			closeTo(t, "features", r.Features, want(t, p+"attn.features").Data, 1e-4)
			for i, v := range want(t, p+"attn.index").Data {
				pi := int(v)
				x, y := float64(pi%8)*14*90/112, float64(pi/8)*14*70/112
				if math.Abs(float64(r.Boxes[4*i])-x) > 1e-3 || math.Abs(float64(r.Boxes[4*i+1])-y) > 1e-3 {
					t.Errorf("region %d: box %v, want patch %d at (%g, %g)", i, r.Boxes[4*i:4*i+4], pi, x, y)
				}
			}
		})
		for _, fusion := range []string{"concat", "mean"} {
			t.Run(fmt.Sprintf("multilayer-%s/reg%d", fusion, reg), func(t *testing.T) {
				e, err := NewDINOv2Multilayer(DINOv2Params{ImageSize: 112, MaxRegions: 9, Layers: []int{1, 2}, Fusion: fusion}, w)
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() != "dinov2_multilayer" {
					t.Errorf("name %q", e.Name())
				}
				r := extractOne(t, e, img)
				closeTo(t, "features", r.Features, want(t, p+"multi."+fusion).Data, 1e-4)
			})
		}
	}
}

func TestExtractorParamErrors(t *testing.T) {
	vit, err := LoadViT(loadSD(t, "dinov2_reg0.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p     DINOv2Params
		multi bool
	}{
		{DINOv2Params{ImageSize: 100}, false},
		{DINOv2Params{ImageSize: 112, MaxRegions: 30}, false},
		{DINOv2Params{ImageSize: 112, RegionSelection: "saliency"}, false},
		{DINOv2Params{ImageSize: 112, MaxRegions: 65, RegionSelection: "attention"}, false},
		{DINOv2Params{ImageSize: 112, Layers: []int{6, 12}}, true},
		{DINOv2Params{ImageSize: 112, Layers: []int{1}, Fusion: "max"}, true},
	} {
		if _, err := NewDINOv2FromViT(vit, tc.p, tc.multi); err == nil {
			t.Errorf("%+v accepted", tc.p)
		}
	}
	if _, err := NewResNet152Grid(GridParams{}, "testdata/no_such_file.pth"); err == nil {
		t.Error("missing weights accepted")
	}
	data, err := os.ReadFile("testdata/resnet_bottleneck.pth")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "truncated.pth")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewResNet152Grid(GridParams{}, cut); err == nil || !strings.Contains(err.Error(), "truncated.pth") {
		t.Errorf("truncated checkpoint: %v", err)
	}
	if _, err := NewDINOv2(DINOv2Params{}, "testdata/resnet_bottleneck.pth"); err == nil || !strings.Contains(err.Error(), "cls_token") {
		t.Errorf("ResNet weights as DINOv2: %v", err)
	}
	if _, err := NewResNetVG(GridParams{}, "testdata/resnet_bottleneck.pth"); err == nil {
		t.Error("torchvision weights accepted as the VG trunk")
	}
	if _, err := NewResNet152RoI(RoIParams{RoIOp: "max"}, "testdata/resnet_bottleneck.pth"); err == nil {
		t.Error("unknown roi_op accepted")
	}
}

func TestExtractStopsWhenCancelled(t *testing.T) {
	e, err := DemoResNet152Grid(GridParams{ImageSize: 64}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Extract(ctx, []image.Image{testImage(t, "meme.png")}); err != context.Canceled {
		t.Errorf("cancelled extraction: %v", err)
	}
}

func TestDemoExtractors(t *testing.T) {
	img := testImage(t, "meme.png")
	var es []Extractor
	for _, mk := range []func() (Extractor, error){
		func() (Extractor, error) { return DemoResNet152Grid(GridParams{ImageSize: 64}, 1) },
		func() (Extractor, error) { return DemoResNetVG(GridParams{ImageSize: 64}, 1) },
		func() (Extractor, error) { return DemoResNet152RoI(RoIParams{ImageSize: 96}, 1) },
		func() (Extractor, error) { return DemoDINOv2(DINOv2Params{ImageSize: 56}, 1) },
		func() (Extractor, error) {
			return DemoDINOv2(DINOv2Params{ImageSize: 112, RegionSelection: "attention"}, 1)
		},
		func() (Extractor, error) { return DemoDINOv2Multilayer(DINOv2Params{ImageSize: 56}, 1) },
	} {
		e, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	wantDim := map[string]int{"resnet152_grid": 512, "resnet_vg": 512, "resnet152_roi": 512, "dinov2": 128, "dinov2_multilayer": 512}
	for _, e := range es {
		if e.Dim() != wantDim[e.Name()] {
			t.Errorf("%s: dim %d, want %d", e.Name(), e.Dim(), wantDim[e.Name()])
		}
		r := extractOne(t, e, img)
		if r.NumBoxes != 36 {
			t.Errorf("%s: %d regions", e.Name(), r.NumBoxes)
		}
		for _, v := range r.Features {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite feature", e.Name())
			}
		}
		for i := 0; i < len(r.Boxes); i += 4 {
			b := r.Boxes[i : i+4]
			if b[0] < 0 || b[1] < 0 || b[2] > float32(r.ImageW) || b[3] > float32(r.ImageH) || b[2] <= b[0] || b[3] <= b[1] {
				t.Fatalf("%s: box %v outside the %d×%d image", e.Name(), b, r.ImageW, r.ImageH)
			}
		}
	}
}

// TestResNet152FullSize checks the full-size torchvision ResNet-152 and a
// ViT-S/14 at 518×518 (random weights generated by torch at test time;
// 330 MB, never committed).
func TestResNet152FullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size ResNet-152 check skipped with -short")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("no %s with torch and torchvision: %v", py, err)
	}
	dir := t.TempDir()
	cmd := exec.Command(py, "../../scripts/fixtures/vision_models.py", "--full", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generating ResNet-152: %v\n%s", err, out)
	}
	e, err := NewResNet152Grid(GridParams{}, filepath.Join(dir, "resnet152.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if e.net.Arch.Depth() != 152 || e.Dim() != 2048 {
		t.Fatalf("inferred %v", e.net.Arch)
	}
	r := extractOne(t, e, testImage(t, "meme.png"))
	exp, err := pytorch.Load(filepath.Join(dir, "expected152.pth"), nil)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "ResNet-152 grid features", r.Features, exp["grid.features"].Data, 1e-4)

	d, err := NewDINOv2(DINOv2Params{}, filepath.Join(dir, "vits14.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if a := d.vit.Arch; a.Width != 384 || a.Depth != 12 || a.Heads != 6 || a.PosGrid != 37 {
		t.Fatalf("inferred %v", a)
	}
	r = extractOne(t, d, testImage(t, "meme.png"))
	closeTo(t, "ViT-S/14 dinov2 features", r.Features, exp["dino.features"].Data, 1e-4)
}

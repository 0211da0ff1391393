package detect

import (
	"image"
	"image/color"
	"slices"
	"strings"
	"testing"
)

func TestCellAnchors(t *testing.T) {
	// torchvision AnchorGenerator(((32,),), ((0.5, 1.0, 2.0),)).cell_anchors[0]
	got := CellAnchors([]float32{32}, []float32{0.5, 1, 2})
	want := []float32{-23, -11, 23, 11, -16, -16, 16, 16, -11, -23, 11, 23}
	if !slices.Equal(got, want) {
		t.Fatalf("cell anchors %v, want %v", got, want)
	}
}

func TestLegacyAnchors(t *testing.T) {
	// py-faster-rcnn generate_anchors() (scales 8, 16, 32), the values its
	// docstring lists
	got := LegacyAnchors(16, []float64{0.5, 1, 2}, []float64{8, 16, 32})
	want := []float32{
		-84, -40, 99, 55, -176, -88, 191, 103, -360, -184, 375, 199,
		-56, -56, 71, 71, -120, -120, 135, 135, -248, -248, 263, 263,
		-36, -80, 51, 95, -80, -168, 95, 183, -168, -344, 183, 359,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("legacy anchors %v, want %v", got, want)
	}
	if n := len(LegacyAnchors(16, []float64{0.5, 1, 2}, []float64{4, 8, 16, 32})) / 4; n != 12 {
		t.Fatalf("VG layout has %d anchors, want 12", n)
	}
}

func TestNMS(t *testing.T) {
	boxes := []float32{
		0, 0, 10, 10, // 0
		1, 1, 11, 11, // 1: IoU 81/119 = 0.68 with 0
		20, 20, 30, 30, // 2
		0, 0, 10, 10.2, // 3: IoU 100/102 with 0, 0.695 with 1
	}
	scores := []float32{0.9, 0.8, 0.7, 0.95}
	tests := []struct {
		name   string
		thresh float32
		legacy bool
		want   []int
	}{
		{"0.5", 0.5, false, []int{3, 2}},
		{"0.7 keeps the 0.68 overlap", 0.7, false, []int{3, 1, 2}},
		{"0.99 keeps all", 0.99, false, []int{3, 0, 1, 2}},
		{"legacy 0.5", 0.5, true, []int{3, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NMS(boxes, scores, tc.thresh, tc.legacy); !slices.Equal(got, tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
		})
	}
	// batched: the same overlapping boxes in different groups all survive
	if got := BatchedNMS(boxes, scores, []int{0, 1, 0, 2}, 0.5); !slices.Equal(got, []int{3, 0, 1, 2}) {
		t.Fatalf("batched kept %v", got)
	}
}

func TestSelectRegions(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float32
		k        int
		want     []int
		detected int
	}{
		{"top k above threshold", []float32{0.9, 0.3, 0.5, 0.25}, 2, []int{0, 2}, 2},
		{"fill from below threshold", []float32{0.1, 0.9, 0.15}, 3, []int{1, 2, 0}, 1},
		{"then the whole image", []float32{0.5, 0.1}, 4, []int{0, 1, -1, -1}, 1},
		{"no detections", nil, 2, []int{-1, -1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := SelectRegions(tc.scores, Selection{MaxRegions: tc.k, Threshold: 0.2})
			if !slices.Equal(got, tc.want) || n != tc.detected {
				t.Fatalf("selected %v (%d detected), want %v (%d)", got, n, tc.want, tc.detected)
			}
		})
	}
}

func testPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8((x ^ y) * 3), 255})
		}
	}
	return img
}

// TestRandomDetectorsExtract runs the demo detectors end to end: every
// image yields exactly MaxRegions regions with boxes inside the image.
func TestRandomDetectorsExtract(t *testing.T) {
	sel := Selection{MaxRegions: 36, Threshold: 0.2}
	img := testPicture(90, 70)
	fcfg := DefaultFPNConfig()
	fcfg.MinSize, fcfg.MaxSize = 96, 160
	fpn, err := LoadFasterRCNNFPN(RandomFPNStateDict(DemoFPNArch, 1), fcfg)
	if err != nil {
		t.Fatal(err)
	}
	var fws FPNWorkspace
	check := func(name string, r *Regions, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Boxes) != 4*36 || len(r.Features) != 36*r.Dim || r.Detected > 36 || r.ImageW != 90 || r.ImageH != 70 {
			t.Fatalf("%s: %d boxes, %d features of %d, %d detected, image %d×%d", name, len(r.Boxes)/4, len(r.Features), r.Dim, r.Detected, r.ImageW, r.ImageH)
		}
		for i, v := range r.Boxes {
			lim := float32(90)
			if i%2 == 1 {
				lim = 70
			}
			if v < 0 || v > lim+1e-3 {
				t.Fatalf("%s: box value %d = %g outside the image", name, i, v)
			}
		}
		t.Logf("%s: %d of 36 above the threshold", name, r.Detected)
	}
	r, err := fpn.Extract(&fws, img, sel)
	check("fpn", r, err)
	ccfg := DefaultC4Config()
	ccfg.Short, ccfg.MaxSize = 96, 160
	c4, err := LoadFasterRCNNC4(RandomC4StateDict(DemoC4Arch, 2), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	var cws C4Workspace
	for _, mode := range []C4Mode{C4Detections, C4Proposals} {
		r, err := c4.Extract(&cws, img, mode, sel)
		check("c4", r, err)
	}
}

// TestFPNOldKeyNames loads the fixture with the key names of the
// published COCO checkpoint (torchvision < 0.13 modules: fpn.inner_blocks.i,
// rpn.head.conv) and gets the same detections.
func TestFPNOldKeyNames(t *testing.T) {
	sd, err := LoadStateDict("frcnn", "testdata/frcnn_fpn.pth")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sd.Keys() {
		v := sd[k]
		nk := strings.Replace(k, ".0.weight", ".weight", 1)
		nk = strings.Replace(nk, ".0.bias", ".bias", 1)
		if strings.HasPrefix(k, "backbone.fpn.") || strings.HasPrefix(k, "rpn.head.conv.0.0") {
			if strings.HasPrefix(k, "rpn.head.conv.0.0") {
				nk = strings.Replace(k, "conv.0.0", "conv", 1)
			}
			delete(sd, k)
			sd[nk] = v
		}
	}
	cfg := DefaultFPNConfig()
	cfg.MinSize, cfg.MaxSize = 128, 192
	m, err := LoadFasterRCNNFPN(sd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ws FPNWorkspace
	det, err := m.Detect(&ws, testImage(t, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "boxes", det.Boxes, want(t, "fpn.0.boxes").Data, 1e-3)
}

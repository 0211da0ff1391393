package detect

import (
	"fmt"
	"slices"
	"testing"
)

func loadTestFPN(t testing.TB) *FasterRCNNFPN {
	t.Helper()
	sd, err := LoadStateDict("frcnn", "testdata/frcnn_fpn.pth")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultFPNConfig()
	cfg.MinSize, cfg.MaxSize = 128, 192
	m, err := LoadFasterRCNNFPN(sd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFasterRCNNFPNMatchesTorchvision runs torchvision's FasterRCNN code
// (narrow ResNet + FPN, random weights) and the Go port on the same
// images: the transformed input, P2 and P6, the RPN proposals in order,
// the final boxes, scores and labels in order, boxes in original pixels
// and the C5 region features.
func TestFasterRCNNFPNMatchesTorchvision(t *testing.T) {
	m := loadTestFPN(t)
	var ws FPNWorkspace
	for i, name := range testImages {
		k := fmt.Sprintf("fpn.%d.", i)
		det, err := m.Detect(&ws, testImage(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if sz := asInts(want(t, k+"image_size")); det.Frame.InputH != sz[0] || det.Frame.InputW != sz[1] {
			t.Fatalf("%s: input %d×%d, want %v (h, w)", name, det.Frame.InputH, det.Frame.InputW, sz)
		}
		if i == 0 { // the transformed input of the first image
			closeTo(t, k+"input", ws.input[:len(want(t, k+"input").Data)], want(t, k+"input").Data, 1e-5)
		}
		if i == 0 {
			closeTo(t, k+"p2", ws.p[0], want(t, k+"p2").Data, 1e-4)
			closeTo(t, k+"pool", ws.p[4][:len(want(t, k+"pool").Data)], want(t, k+"pool").Data, 1e-4)
		}
		closeTo(t, k+"proposals", det.Proposals, want(t, k+"proposals").Data, 1e-3)
		closeTo(t, k+"boxes", det.Boxes, want(t, k+"boxes").Data, 1e-3)
		closeTo(t, k+"scores", det.Scores, want(t, k+"scores").Data, 1e-3)
		if got, w := det.Labels, asInts(want(t, k+"labels")); !slices.Equal(got, w) {
			t.Errorf("%s labels %v, want %v", k, got, w)
		}
		closeTo(t, k+"orig_boxes", det.Frame.ToImage(det.Boxes), want(t, k+"orig_boxes").Data, 1e-3)
		closeTo(t, k+"region", m.RegionFeatures(&ws, det.Boxes), want(t, k+"region").Data, 1e-3)
	}
}

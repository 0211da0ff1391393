package detect

import (
	"fmt"
	"testing"
)

func loadTestC4(t testing.TB) *FasterRCNNC4 {
	t.Helper()
	sd, err := LoadStateDict("vg", "testdata/vg.pth")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultC4Config()
	cfg.Short, cfg.MaxSize, cfg.Chunk = 128, 192, 50
	m, err := LoadFasterRCNNC4(sd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFasterRCNNC4MatchesReference runs the caffe-style VG detector
// (reference in scripts/fixtures/detect.py, jwyang's layout at reduced
// width) and the Go port: input, proposals and their scores in order,
// fc7 region features, class probabilities, class-specific boxes and
// bottom-up-attention's per-proposal max_conf.
func TestFasterRCNNC4MatchesReference(t *testing.T) {
	m := loadTestC4(t)
	if m.NumClasses != 21 || m.ClassAgnostic {
		t.Fatalf("classes %d agnostic %v, want 21 class-specific", m.NumClasses, m.ClassAgnostic)
	}
	var ws C4Workspace
	for i, name := range testImages {
		k := fmt.Sprintf("vg.%d.", i)
		out, err := m.Forward(&ws, testImage(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // the transformed input of the first image
			closeTo(t, k+"input", ws.input[:len(want(t, k+"input").Data)], want(t, k+"input").Data, 1e-5)
		}
		closeTo(t, k+"proposals", out.Proposals, want(t, k+"proposals").Data, 1e-3)
		closeTo(t, k+"proposal_scores", out.ProposalScores, want(t, k+"proposal_scores").Data, 1e-3)
		closeTo(t, k+"fc7", out.Features, want(t, k+"fc7").Data, 1e-3)
		closeTo(t, k+"cls_prob", out.ClsProb, want(t, k+"cls_prob").Data, 1e-3)
		closeTo(t, k+"boxes", out.Boxes, want(t, k+"boxes").Data, 1e-3)
		closeTo(t, k+"max_conf", out.MaxConf(m.NumClasses, 0.3), want(t, k+"max_conf").Data, 1e-3)
	}
}

// TestC4ClassProbs: the class probabilities of the proposals' own fc7
// features are the model's cls_prob.
func TestC4ClassProbs(t *testing.T) {
	m := loadTestC4(t)
	var ws C4Workspace
	out, err := m.Forward(&ws, testImage(t, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "cls_prob", m.ClassProbs(out.Features), want(t, "vg.0.cls_prob").Data, 1e-4)
	r, err := m.Extract(&ws, testImage(t, "a.png"), C4Proposals, Selection{MaxRegions: 36, Threshold: 0.2, ClsProb: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ClsProb) != 36*m.NumClasses {
		t.Fatalf("%d class probabilities, want 36 × %d", len(r.ClsProb), m.NumClasses)
	}
}

package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

type rocFixture struct {
	FPR        []*float64 `json:"fpr"`
	TPR        []*float64 `json:"tpr"`
	Thresholds []*float64 `json:"thresholds"`
}

type sklearnCase struct {
	Name     string      `json:"name"`
	Labels   []int       `json:"labels"`
	Logits   []float32   `json:"logits"`
	Proba    []float64   `json:"proba"`
	Preds    []int       `json:"preds"`
	Accuracy float64     `json:"accuracy"`
	F1       float64     `json:"f1"`
	Loss     float64     `json:"loss"`
	AUROC    *float64    `json:"auroc"`
	Error    string      `json:"error"`
	ROCDrop  *rocFixture `json:"roc_drop"`
	ROCFull  *rocFixture `json:"roc_full"`
}

func loadCases(t *testing.T) []sklearnCase {
	t.Helper()
	b, err := os.ReadFile("testdata/sklearn_cases.json")
	if err != nil {
		t.Fatalf("read fixture (regenerate with scripts/fixtures/metrics.py): %v", err)
	}
	var f struct {
		Cases []sklearnCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode testdata/sklearn_cases.json: %v", err)
	}
	if len(f.Cases) < 10 {
		t.Fatalf("fixture holds %d cases, want at least 10", len(f.Cases))
	}
	return f.Cases
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAgainstSklearn(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			for i := range c.Labels {
				p := ProbHateful(float64(c.Logits[2*i]), float64(c.Logits[2*i+1]))
				if !near(p, c.Proba[i], 1e-15) {
					t.Fatalf("ProbHateful[%d] = %v, want %v", i, p, c.Proba[i])
				}
				if got := PredictProba(p); got != c.Preds[i] {
					t.Fatalf("PredictProba(%v) = %d, argmax gives %d", p, got, c.Preds[i])
				}
			}
			acc, err := Accuracy(c.Labels, c.Preds)
			if err != nil || !near(acc, c.Accuracy, 1e-15) {
				t.Errorf("Accuracy = %v, %v; want %v", acc, err, c.Accuracy)
			}
			f1, err := F1(c.Labels, c.Preds)
			if err != nil || !near(f1, c.F1, 1e-15) {
				t.Errorf("F1 = %v, %v; want %v", f1, err, c.F1)
			}
			loss, err := CrossEntropy(c.Logits, c.Labels)
			if err != nil || !near(loss, c.Loss, 1e-12) {
				t.Errorf("CrossEntropy = %v, %v; want %v", loss, err, c.Loss)
			}
			auc, err := AUROC(c.Labels, c.Proba)
			m, evalErr := Evaluate(c.Logits, c.Labels)
			if c.Error != "" {
				if !errors.Is(err, ErrSingleClass) || !errors.Is(evalErr, ErrSingleClass) {
					t.Fatalf("AUROC error %v, Evaluate error %v; want ErrSingleClass (sklearn: %s)", err, evalErr, c.Error)
				}
				if _, err := ROCCurve(c.Labels, c.Proba, true); !errors.Is(err, ErrSingleClass) {
					t.Fatalf("ROCCurve error %v, want ErrSingleClass", err)
				}
				return
			}
			if err != nil || !near(auc, *c.AUROC, 1e-12) {
				t.Errorf("AUROC = %v, %v; want %v", auc, err, *c.AUROC)
			}
			if evalErr != nil {
				t.Fatalf("Evaluate: %v", evalErr)
			}
			want := Binary{AUROC: *c.AUROC, Accuracy: c.Accuracy, F1: c.F1, Loss: c.Loss}
			if !near(m.AUROC, want.AUROC, 1e-12) || m.Accuracy != want.Accuracy || !near(m.F1, want.F1, 1e-15) || !near(m.Loss, want.Loss, 1e-12) {
				t.Errorf("Evaluate = %+v, want %+v", m, want)
			}
			for _, rc := range []struct {
				drop bool
				want *rocFixture
			}{{true, c.ROCDrop}, {false, c.ROCFull}} {
				roc, err := ROCCurve(c.Labels, c.Proba, rc.drop)
				if err != nil {
					t.Fatalf("ROCCurve(drop=%v): %v", rc.drop, err)
				}
				compareCurve(t, "fpr", rc.drop, roc.FPR, rc.want.FPR)
				compareCurve(t, "tpr", rc.drop, roc.TPR, rc.want.TPR)
				compareCurve(t, "thresholds", rc.drop, roc.Thresholds, rc.want.Thresholds)
			}
		})
	}
}

// compareCurve checks one ROC array; a nil fixture value stands for +Inf.
func compareCurve(t *testing.T, what string, drop bool, got []float64, want []*float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ROCCurve(drop=%v) %s has %d points, sklearn %d", drop, what, len(got), len(want))
	}
	for i := range got {
		w := math.Inf(1)
		if want[i] != nil {
			w = *want[i]
		}
		if !(got[i] == w || near(got[i], w, 1e-15)) {
			t.Fatalf("ROCCurve(drop=%v) %s[%d] = %v, sklearn %v", drop, what, i, got[i], w)
		}
	}
}

// TestAUROCMatchesAverageRanks checks the trapezoid area against the
// Mann–Whitney U statistic with average ranks for ties, an independent
// formula for the same quantity.
func TestAUROCMatchesAverageRanks(t *testing.T) {
	for _, c := range loadCases(t) {
		if c.Error != "" {
			continue
		}
		auc, err := AUROC(c.Labels, c.Proba)
		if err != nil {
			t.Fatal(err)
		}
		var nPos, nNeg int
		var rankSum float64
		for i, y := range c.Labels {
			if y == 0 {
				nNeg++
				continue
			}
			nPos++
			var less, equal float64
			for _, s := range c.Proba {
				if s < c.Proba[i] {
					less++
				} else if s == c.Proba[i] {
					equal++
				}
			}
			rankSum += less + (equal+1)/2
		}
		u := rankSum - float64(nPos*(nPos+1))/2
		if want := u / float64(nPos*nNeg); !near(auc, want, 1e-12) {
			t.Errorf("%s: AUROC %v, Mann–Whitney %v", c.Name, auc, want)
		}
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name   string
		labels []int
		scores []float64
	}{
		{"empty", nil, nil},
		{"length mismatch", []int{0, 1}, []float64{0.1}},
		{"label 2", []int{0, 2}, []float64{0.1, 0.2}},
		{"nan score", []int{0, 1}, []float64{math.NaN(), 0.2}},
		{"inf score", []int{0, 1}, []float64{0.3, math.Inf(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := AUROC(tt.labels, tt.scores); err == nil || errors.Is(err, ErrSingleClass) {
				t.Errorf("AUROC error = %v, want an input error", err)
			}
			if _, err := ROCCurve(tt.labels, tt.scores, true); err == nil {
				t.Error("ROCCurve accepted bad input")
			}
		})
	}
	if _, err := Accuracy([]int{1}, []int{1, 0}); err == nil {
		t.Error("Accuracy accepted mismatched lengths")
	}
	if _, err := F1([]int{1, 3}, []int{1, 0}); err == nil {
		t.Error("F1 accepted label 3")
	}
	if _, err := CrossEntropy([]float32{1, 2, 3}, []int{0, 1}); err == nil {
		t.Error("CrossEntropy accepted 3 logits for 2 labels")
	}
}

func TestProbHatefulExtremes(t *testing.T) {
	tests := []struct {
		l0, l1, want float64
	}{
		{0, 0, 0.5},
		{0, 1000, 1},
		{1000, 0, 0},
		{-800, -800, 0.5},
	}
	for _, tt := range tests {
		if got := ProbHateful(tt.l0, tt.l1); got != tt.want || math.IsNaN(got) {
			t.Errorf("ProbHateful(%v, %v) = %v, want %v", tt.l0, tt.l1, got, tt.want)
		}
	}
	if PredictProba(0.5) != 0 {
		t.Error("PredictProba(0.5) must be 0: a logit tie goes to class 0")
	}
}

func FuzzAUROC(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		labels := make([]int, len(b))
		scores := make([]float64, len(b))
		for i, v := range b {
			labels[i] = int(v & 1)
			scores[i] = float64(v >> 3)
		}
		auc, err := AUROC(labels, scores)
		if err != nil {
			return
		}
		if auc < 0 || auc > 1 || math.IsNaN(auc) {
			t.Fatalf("AUROC %v outside [0,1]", auc)
		}
		roc, err := ROCCurve(labels, scores, true)
		if err != nil {
			t.Fatalf("AUROC succeeded but ROCCurve failed: %v", err)
		}
		var area float64
		for i := 1; i < len(roc.FPR); i++ {
			area += (roc.FPR[i] - roc.FPR[i-1]) * (roc.TPR[i] + roc.TPR[i-1]) / 2
		}
		if !near(area, auc, 1e-12) {
			t.Fatalf("area under ROCCurve %v != AUROC %v", area, auc)
		}
		if roc.FPR[len(roc.FPR)-1] != 1 || roc.TPR[len(roc.TPR)-1] != 1 {
			t.Fatalf("curve ends at (%v,%v), want (1,1)", roc.FPR[len(roc.FPR)-1], roc.TPR[len(roc.TPR)-1])
		}
	})
}

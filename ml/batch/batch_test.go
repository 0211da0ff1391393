package batch

import (
	"strings"
	"testing"
)

func example(id string, label, t, r, d int, base float32) *Example {
	e := &Example{ID: id, Label: label, FeatDim: d,
		InputIDs: make([]int32, t), SegmentIDs: make([]int32, t), TextMask: make([]float32, t),
		Features: make([]float32, r*d), Locations: make([]float32, r*5), ImageMask: make([]float32, r)}
	for i := range e.InputIDs {
		e.InputIDs[i] = int32(base) + int32(i)
		e.TextMask[i] = 1
	}
	for i := range e.Features {
		e.Features[i] = base + float32(i)
	}
	for i := range e.Locations {
		e.Locations[i] = base / 10
	}
	for i := range e.ImageMask {
		e.ImageMask[i] = 1
	}
	return e
}

func TestCollateLayout(t *testing.T) {
	a, b := example("1", 0, 4, 3, 2, 100), example("2", NoLabel, 4, 3, 2, 200)
	bt, err := Collate([]*Example{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if bt.Size != 2 || bt.SeqLen != 4 || bt.Regions != 3 || bt.FeatDim != 2 || bt.Step != -1 {
		t.Fatalf("dims %d×%d, %d regions × %d, step %d", bt.Size, bt.SeqLen, bt.Regions, bt.FeatDim, bt.Step)
	}
	if bt.InputIDs[4] != 200 || bt.Features[6] != 200 || bt.Features[5] != 105 || bt.Locations[15] != 20 {
		t.Errorf("row 1 not laid out after row 0: ids %v feats %v", bt.InputIDs, bt.Features)
	}
	if bt.Labelled() {
		t.Error("batch with an unlabelled example reports Labelled")
	}
	if bt.IDs[1] != "2" || bt.Labels[0] != 0 {
		t.Errorf("ids %v labels %v", bt.IDs, bt.Labels)
	}
}

func TestCollateErrors(t *testing.T) {
	bad := example("9", 0, 4, 3, 2, 1)
	bad.Locations = bad.Locations[:5]
	tests := []struct {
		name string
		ex   []*Example
		want string
	}{
		{"empty", nil, "empty"},
		{"different seq len", []*Example{example("1", 0, 4, 3, 2, 0), example("7", 1, 5, 3, 2, 0)}, `"7"`},
		{"different regions", []*Example{example("1", 0, 4, 3, 2, 0), example("8", 1, 4, 2, 2, 0)}, `"8"`},
		{"bad locations", []*Example{bad}, "location"},
		{"bad label", []*Example{example("5", 3, 4, 3, 2, 0)}, "label 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Collate(tt.ex)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to mention %s", err, tt.want)
			}
		})
	}
}

package batch

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/text"
)

// mapStore is a features.Reader over records in memory.
type mapStore map[string]*features.Record

func (s mapStore) Get(id string) (*features.Record, error) {
	r, ok := s[id]
	if !ok {
		return nil, fmt.Errorf("no %q", id)
	}
	return r, nil
}
func (s mapStore) IDs() []string  { return nil }
func (s mapStore) Close() error   { return nil }
func (s mapStore) String() string { return "lmdb store test.lmdb" }

func goodRecord(id string) *features.Record {
	return &features.Record{ID: id, Dim: 4, NumBoxes: 2, ImageW: 100, ImageH: 50,
		Features: []float32{1, 2, 3, 4, 5, 6, 7, 8}, Boxes: []float32{0, 0, 10, 10, 50, 20, 100, 50}}
}

// TestRecordChecks: each bad record is refused as it is read, naming
// the meme id, the store and the field.
func TestRecordChecks(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(r *features.Record)
		want string
	}{
		{"good", func(*features.Record) {}, ""},
		{"NaN", func(r *features.Record) { r.Features[5] = float32(math.NaN()) }, "field features: value NaN at region 1, column 1"},
		{"Inf", func(r *features.Record) { r.Features[0] = float32(math.Inf(1)) }, "field features: value +Inf"},
		{"wide", func(r *features.Record) {
			r.Dim, r.Features = 8, make([]float32, 16)
		}, "field features: width 8, the model takes 4"},
		{"no boxes", func(r *features.Record) { r.NumBoxes, r.Features, r.Boxes = 0, nil, nil }, "field num_boxes: 0 regions"},
		{"rows", func(r *features.Record) { r.NumBoxes = 3 }, "want num_boxes 3 × dim 4"},
		{"box outside", func(r *features.Record) { r.Boxes[6] = 140 }, "field bbox: region 1 is (50, 20, 140, 50), not inside the 100×50 image"},
		{"box reversed", func(r *features.Record) { r.Boxes[0] = 20 }, "field bbox: region 0"},
		{"box NaN", func(r *features.Record) { r.Boxes[1] = float32(math.NaN()) }, "field bbox: region 0"},
		{"no size", func(r *features.Record) { r.ImageW = 0 }, "fields image_width, image_height"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := goodRecord("42953")
			c.edit(rec)
			s := &Source{Memes: []memes.Meme{{ID: "42953", Img: "img/42953.png"}}, Encodings: []text.Encoding{{IDs: []int32{101, 102}, SegmentIDs: []int32{0, 0}, InputMask: []int32{1, 1}}},
				Features: mapStore{"42953": rec}, MaxFeatures: 3, FeatDim: 4}
			_, err := s.Example(0)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "meme 42953") || !strings.Contains(err.Error(), "test.lmdb") {
				t.Fatalf("error %v, want the meme id, the store and %q", err, c.want)
			}
		})
	}
}

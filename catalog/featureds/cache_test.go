package featureds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mmc/features"
	"mmc/features/h5store"
)

// extraction mirrors nodes.ExtractFeatures' stream: it plans its images,
// names its extractor and parameters, and counts what it extracts; it
// fails after failAfter records when failAfter > 0.
type extraction struct {
	recs      []*features.Record
	params    map[string]any
	failAfter int
	extracted []string
}

func (e *extraction) Len() int                        { return len(e.recs) }
func (e *extraction) MaxRegions() int                 { return 3 }
func (e *extraction) Extractor() string               { return "vision stand-in" }
func (e *extraction) ExtractorParams() map[string]any { return e.params }
func (e *extraction) ImageIDs() []string {
	ids := make([]string, len(e.recs))
	for i, r := range e.recs {
		ids[i] = r.ID
	}
	return ids
}
func (e *extraction) Each(fn func(*features.Record) error) error {
	return e.EachMissing(func(string) bool { return false }, fn)
}

var errKilled = errors.New("extraction interrupted")

func (e *extraction) EachMissing(have func(string) bool, fn func(*features.Record) error) error {
	for _, r := range e.recs {
		if have(r.ID) {
			continue
		}
		if e.failAfter > 0 && len(e.extracted) == e.failAfter {
			return errKilled
		}
		e.extracted = append(e.extracted, r.ID)
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestExtractionCachedResumedChecked: an interrupted extraction keeps
// its committed parts and the next run extracts only the rest; the
// store then equals an uninterrupted one and the parts are gone; a third
// run extracts nothing; other parameters are an error naming them, for
// the store and for unfinished parts alike.
func TestExtractionCachedResumedChecked(t *testing.T) {
	c, dir := newCatalog(t, `
feats:
  type: hdf5_features
  filepath: $DIR/feats.h5
`)
	ctx := context.Background()
	n := PartSize*2 + 50
	recs := sampleRecords(n, 3, func(i int) string { return fmt.Sprintf("img%04d", i) })
	for i, r := range recs {
		r.Detected = i % (r.NumBoxes + 1) // a detector's count, kept through the parts and the merge
	}
	params := map[string]any{"image_size": 224.0, "backbone": "random"}
	path := filepath.Join(dir, "feats.h5")

	// Interrupted after PartSize+10 images: one full part and the 10
	// records of the second are committed.
	first := &extraction{recs: recs, params: params, failAfter: PartSize + 10}
	err := c.Save(ctx, "feats", first)
	if err == nil || !errors.Is(err, errKilled) || !strings.Contains(err.Error(), "resumes") {
		t.Fatalf("interrupted save: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("an interrupted extraction left a store at %s: %v", path, err)
	}
	parts, _ := filepath.Glob(filepath.Join(PartialDir(path), "part-*.h5"))
	if len(parts) != 2 {
		t.Fatalf("parts after the interruption: %v, want 2", parts)
	}

	// Other parameters with unfinished parts: an error, the parts kept.
	if err := c.Save(ctx, "feats", &extraction{recs: recs, params: map[string]any{"image_size": 600.0, "backbone": "random"}}); err == nil ||
		!strings.Contains(err.Error(), "image_size: 224 → 600") || !strings.Contains(err.Error(), "unfinished") {
		t.Errorf("resume with other parameters: %v", err)
	}

	second := &extraction{recs: recs, params: params}
	if err := c.Save(ctx, "feats", second); err != nil {
		t.Fatal(err)
	}
	if want := first.extracted; len(second.extracted) != n-len(want) || slices.Contains(second.extracted, want[0]) || second.extracted[0] != recs[len(want)].ID {
		t.Errorf("resumed run extracted %d images starting %v; want the %d not extracted before", len(second.extracted), second.extracted[:1], n-len(want))
	}
	if _, err := os.Stat(PartialDir(path)); !os.IsNotExist(err) {
		t.Errorf("parts left after the merge: %v", err)
	}
	s, err := h5store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.IDs(), second.ImageIDs()) || s.Extractor() != "vision stand-in" {
		t.Errorf("merged store: %d ids (%s), want the stream's %d in order", len(s.IDs()), s.Extractor(), n)
	}
	for _, i := range []int{0, PartSize + 5, n - 1} {
		got, err := s.Get(recs[i].ID)
		if err != nil || !reflect.DeepEqual(got.Features, recs[i].Features) || !reflect.DeepEqual(got.Boxes, recs[i].Boxes) {
			t.Errorf("record %s after resume: %v", recs[i].ID, err)
		}
	}
	for _, r := range recs {
		got, err := s.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Detected != r.Detected {
			t.Fatalf("record %s after the merge: Detected %d, want %d", r.ID, got.Detected, r.Detected)
		}
	}
	s.Close()
	info, _ := os.Stat(path)

	// Same parameters again: nothing extracted, the store untouched.
	third := &extraction{recs: recs, params: params}
	if err := c.Save(ctx, "feats", third); err != nil || len(third.extracted) != 0 {
		t.Errorf("cached save: %v, %d images extracted; want none", err, len(third.extracted))
	}
	if again, _ := os.Stat(path); !os.SameFile(info, again) {
		t.Error("cached save replaced the store")
	}

	// Other parameters: an error naming the store and the difference.
	err = c.Save(ctx, "feats", &extraction{recs: recs, params: map[string]any{"image_size": 224.0, "backbone": "checkpoint weights/resnet152.pth"}})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backbone") || !strings.Contains(err.Error(), "not reused") {
		t.Errorf("store of other parameters: %v", err)
	}

	// More images with the same parameters: only the new ones extracted.
	more := append(slices.Clone(recs), sampleRecords(3, 3, func(i int) string { return fmt.Sprintf("new%d", i) })...)
	fourth := &extraction{recs: more, params: params}
	if err := c.Save(ctx, "feats", fourth); err != nil || len(fourth.extracted) != 3 {
		t.Errorf("store missing 3 images: %v, extracted %v", err, fourth.extracted)
	}
}

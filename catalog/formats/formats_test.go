package formats

import (
	"slices"
	"testing"

	"mmc/catalog"
)

// TestAll: the list builds a catalog (no name twice) and holds every
// format the committed catalog files use.
func TestAll(t *testing.T) {
	if _, err := catalog.New(nil, nil, catalog.Options{Formats: All()}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range All() {
		names = append(names, f.Name)
	}
	for _, want := range []string{"json", "jsonl", "csv", "png", "png_folder", "memory", "text",
		"lmdb_features", "hdf5_features", "region_features", "meme_folder", "model_checkpoint", "synthetic_scenes"} {
		if !slices.Contains(names, want) {
			t.Errorf("format %q missing from All() (%v)", want, names)
		}
	}
}

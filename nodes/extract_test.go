package nodes

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/features"
	"mmc/features/extract"
	"mmc/features/h5store"
	"mmc/synth"
)

// TestExtractFeaturesSynthetic runs the synthetic extractor through the
// extract_features node into an HDF5 store, as the pipeline does: the
// records equal the synthetic detector's, and the store names the
// extractor and its parameters.
func TestExtractFeaturesSynthetic(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	sp := smallSynthetic()
	folder, set, err := GenerateSyntheticMemes(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	mds, _ := formats.MemeFolder().New(catalog.Spec{Name: "m", Filepath: root})
	sds, _ := formats.SyntheticScenes().New(catalog.Spec{Name: "s", Filepath: root})
	if err := mds.Save(ctx, folder); err != nil {
		t.Fatal(err)
	}
	if err := sds.Save(ctx, set); err != nil {
		t.Fatal(err)
	}
	folder = loadFolder(t, root)

	p := extract.Params{Name: "synthetic", BatchSize: 5, Synthetic: extract.Synthetic{DetectorParams: sp.Detector}}
	regions, err := ExtractFeatures(ctx, p, folder)
	if err != nil {
		t.Fatal(err)
	}
	if regions.Len() != 24 {
		t.Errorf("%d images to extract, want 24", regions.Len())
	}
	out := root + "/features.h5"
	conf := config.NewTree()
	conf.Set("extracted_features", map[string]any{"type": "hdf5_features", "filepath": out,
		"save_args": map[string]any{"compression": int64(-1)}}, config.Pos{})
	cat, err := catalog.New(conf, nil, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Save(ctx, "extracted_features", regions); err != nil {
		t.Fatal(err)
	}

	st, err := h5store.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	det, err := synth.NewDetector(sp.Detector)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = (&synth.DetectedRegions{Set: set, Detector: det}).Each(func(want *features.Record) error {
		got, err := st.Get(want.ID)
		if err != nil {
			return err
		}
		if got.NumBoxes != want.NumBoxes || !reflect.DeepEqual(got.Features, want.Features) || !reflect.DeepEqual(got.Boxes, want.Boxes) ||
			got.ImageW != want.ImageW || got.ImageH != want.ImageH {
			t.Errorf("image %s: extracted record differs from the synthetic detector's", want.ID)
		}
		n++
		return nil
	})
	if err != nil || n != 24 {
		t.Fatalf("compared %d records: %v", n, err)
	}
	if st.Extractor() != "synthetic" {
		t.Errorf("extractor attribute %q, want synthetic", st.Extractor())
	}
	params, err := st.ExtractorParams()
	if err != nil || params["seed"] != float64(sp.Detector.Seed) || params["dim"] != float64(sp.Detector.Dim) {
		t.Errorf("extractor_params %v (%v), want the detector's seed %d and dim %d", params, err, sp.Detector.Seed, sp.Detector.Dim)
	}
}

func TestExtractFeaturesErrors(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	folder, set, err := GenerateSyntheticMemes(ctx, smallSynthetic())
	if err != nil {
		t.Fatal(err)
	}
	mds, _ := formats.MemeFolder().New(catalog.Spec{Name: "m", Filepath: root})
	if err := mds.Save(ctx, folder); err != nil {
		t.Fatal(err)
	}
	folder = loadFolder(t, root)
	good := extract.Params{Name: "synthetic", Synthetic: extract.Synthetic{DetectorParams: smallSynthetic().Detector}}
	for _, c := range []struct {
		name string
		edit func(*extract.Params)
		want string
	}{
		{"unknown extractor", func(p *extract.Params) { p.Name = "resnet9000" }, `extractor "resnet9000" unknown (want one of synthetic`},
		{"unknown split", func(p *extract.Params) { p.Splits = []string{"nope"} }, `split "nope" not found`},
		{"no scenes", func(p *extract.Params) {}, "run the synthetic_memes pipeline"},
	} {
		p := good
		c.edit(&p)
		if _, err := ExtractFeatures(ctx, p, folder); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// A picture that is not its scene's (another size) is named.
	sds, _ := formats.SyntheticScenes().New(catalog.Spec{Name: "s", Filepath: root})
	if err := sds.Save(ctx, set); err != nil {
		t.Fatal(err)
	}
	writeTestPNG(t, filepath.Join(root, set.Splits[0].Scenes[0].Img))
	r, err := ExtractFeatures(ctx, good, folder)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Each(func(*features.Record) error { return nil })
	if id := set.Splits[0].Scenes[0].ID; err == nil || !strings.Contains(err.Error(), string(id)) {
		t.Errorf("picture of another size: error %v, want it to name image %s", err, id)
	}
}

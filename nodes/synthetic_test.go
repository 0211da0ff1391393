package nodes

import (
	"context"
	"reflect"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/features"
	"mmc/synth"
)

func smallSynthetic() synth.Params {
	p := synth.DefaultParams()
	p.Splits = []synth.Split{{Name: "train", Memes: 16, Labelled: true}, {Name: "test_unseen", Memes: 8}}
	p.Detector.Dim = 8
	return p
}

func TestGenerateSyntheticMemes(t *testing.T) {
	p := smallSynthetic()
	folder, set, err := GenerateSyntheticMemes(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(folder.Splits) != 2 || len(folder.Splits[0].Memes) != 16 || len(folder.Splits[1].Memes) != 8 {
		t.Fatalf("folder splits %+v", folder.Splits)
	}
	for i, s := range set.Splits {
		if !reflect.DeepEqual(folder.Splits[i].Memes, s.Memes) {
			t.Errorf("split %s: folder and scene set disagree", s.Name)
		}
	}
	p.NumColours = 0
	if _, _, err := GenerateSyntheticMemes(context.Background(), p); err == nil {
		t.Error("invalid parameters were accepted")
	}
}

// TestSyntheticFilesRoundTrip saves the generator's outputs through their
// catalog formats into one folder and loads them back, as a run does.
func TestSyntheticFilesRoundTrip(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	folder, set, err := GenerateSyntheticMemes(ctx, smallSynthetic())
	if err != nil {
		t.Fatal(err)
	}
	memesFmt, scenesFmt := formats.MemeFolder(), formats.SyntheticScenes()
	mds, _ := memesFmt.New(catalog.Spec{Name: "synthetic_memes", Filepath: root})
	sds, _ := scenesFmt.New(catalog.Spec{Name: "synthetic_scenes", Filepath: root})
	if ok, _ := sds.Exists(); ok {
		t.Error("scenes exist before they were saved")
	}
	if err := mds.Save(ctx, folder); err != nil {
		t.Fatal(err)
	}
	if err := sds.Save(ctx, set); err != nil {
		t.Fatal(err)
	}
	if ok, _ := sds.Exists(); !ok {
		t.Error("saved scenes do not exist")
	}
	v, err := sds.Load(ctx, reflect.TypeFor[*synth.Set]())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, set) {
		t.Error("scenes do not round-trip")
	}
	rep, err := SummariseMemes(ctx, loadFolder(t, root), DataProcessingParams{DecodeImages: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Totals.Memes != 24 || rep.Totals.Hateful != 8 || len(rep.UnlabelledSplits) != 1 {
		t.Errorf("report on the synthetic set: %+v", rep)
	}
	if err := sds.Save(ctx, "not a set"); err == nil {
		t.Error("saving a string as scenes was accepted")
	}
}

func TestSyntheticDetector(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, set, _ := GenerateSyntheticMemes(ctx, smallSynthetic())
	p := smallSynthetic().Detector
	a, b, err := SyntheticDetector(ctx, set, p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 24 || b.Len() != 24 {
		t.Fatalf("Len %d, %d, want 24", a.Len(), b.Len())
	}
	n := 0
	err = a.Each(func(r *features.Record) error {
		if r.Dim != 8 || r.NumBoxes != 2+p.ContextRegions {
			t.Errorf("record %s: %d×%d", r.ID, r.NumBoxes, r.Dim)
		}
		n++
		return nil
	})
	if err != nil || n != 24 {
		t.Fatalf("Each: %d records, %v", n, err)
	}
	cancel()
	if err := a.Each(func(*features.Record) error { return nil }); err == nil {
		t.Error("a cancelled run kept computing features")
	}
	p.Dim = 0
	if _, _, err := SyntheticDetector(ctx, set, p); err == nil {
		t.Error("dim 0 was accepted")
	}
}

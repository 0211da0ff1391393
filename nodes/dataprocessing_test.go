package nodes

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/memes"
)

// writeFolder lays out a small data set with every kind of problem the
// report must list.
func writeFolder(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "img"), 0o755)
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	png.Encode(&buf, img)
	good := buf.Bytes()
	for _, n := range []string{"00001", "00002", "00003", "00010"} {
		os.WriteFile(filepath.Join(root, "img", n+".png"), good, 0o644)
	}
	os.WriteFile(filepath.Join(root, "img", "00004.png"), good[:len(good)/2], 0o644) // truncated
	os.WriteFile(filepath.Join(root, "img", "00005.png"), []byte("not an image"), 0o644)
	train := strings.Join([]string{
		`{"id": 1, "img": "img/00001.png", "label": 1, "text": "one two three"}`,
		`{"id": 2, "img": "img/00002.png", "label": 0, "text": "four"}`,
		`{"id": 2, "img": "img/00003.png", "label": 0, "text": "dup id"}`,
		`{"id": 4, "img": "img/00004.png", "label": 1, "text": "truncated image"}`,
		`{"id": 5, "img": "img/00005.png", "label": 0, "text": "garbage image"}`,
		`{"id": 6, "img": "img/00006.png", "label": 0, "text": "missing image"}`,
		`{"id": 7, "img": "img/00007.png", "label": 0, "text": "also missing"}`,
		`{"id": 8, "img": "img/00001.png", "label": 2, "text": "bad label"}`,
		`not json at all`,
		``,
		`{"id": 9, "text": "no img"}`,
	}, "\n")
	os.WriteFile(filepath.Join(root, "train.jsonl"), []byte(train+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "test_unseen.jsonl"), []byte(
		`{"id": 10, "img": "img/00010.png", "text": "no label here"}`+"\n"+
			`{"id": 1, "img": "img/00001.png", "text": "id shared with train"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "extra.jsonl"), []byte(`{"id": 11, "img": "img/00010.png", "label": 1, "text": ""}`+"\n"), 0o644)
	return root
}

func loadFolder(t *testing.T, root string) memes.Folder {
	t.Helper()
	ds, err := formats.MemeFolder().New(catalog.Spec{Name: "raw_memes", Type: "meme_folder", Filepath: root})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ds.Load(context.Background(), reflect.TypeFor[memes.Folder]())
	if err != nil {
		t.Fatal(err)
	}
	return v.(memes.Folder)
}

func TestMemeFolderLoadsLeniently(t *testing.T) {
	root := writeFolder(t)
	f := loadFolder(t, root)
	var names []string
	for _, s := range f.Splits {
		names = append(names, s.Name)
	}
	if want := []string{"train", "test_unseen", "extra"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("splits %v, want %v (challenge order first, then the rest)", names, want)
	}
	train := f.Splits[0]
	if len(train.Memes) != 7 {
		t.Errorf("train: %d memes, want 7 (every line that decodes, duplicates kept)", len(train.Memes))
	}
	wantBad := []string{"train.jsonl:8: field \"label\" is 2", "train.jsonl:9: not a JSON object", "train.jsonl:11: field \"img\" is missing"}
	if len(train.BadLines) != len(wantBad) {
		t.Fatalf("bad lines %q, want %d", train.BadLines, len(wantBad))
	}
	for i, w := range wantBad {
		if !strings.Contains(train.BadLines[i], w) {
			t.Errorf("bad line %d = %q, want it to contain %q", i, train.BadLines[i], w)
		}
	}
}

func TestSummariseMemesListsEveryProblem(t *testing.T) {
	root := writeFolder(t)
	for _, decode := range []bool{true, false} {
		rep, err := SummariseMemes(context.Background(), loadFolder(t, root), DataProcessingParams{DecodeImages: decode, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		train := rep.Splits[0]
		if train.Memes != 7 || train.Hateful != 2 || train.NotHateful != 5 || train.Labelled != 7 {
			t.Errorf("train counts %+v", train)
		}
		if *train.HatefulFraction != 2.0/7 {
			t.Errorf("hateful fraction %v", *train.HatefulFraction)
		}
		ids := func(ps []ImageProblem) (out []memes.ID) {
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		if got := ids(train.MissingImages); !reflect.DeepEqual(got, []memes.ID{"6", "7"}) {
			t.Errorf("missing images of %v, want 6 and 7", got)
		}
		wantUnreadable := []memes.ID{"4", "5"}
		if !decode {
			wantUnreadable = []memes.ID{"5"} // a header check cannot see truncated pixel data
		}
		if got := ids(train.UnreadableImages); !reflect.DeepEqual(got, wantUnreadable) {
			t.Errorf("decode=%v: unreadable images of %v, want %v", decode, got, wantUnreadable)
		}
		if len(train.DuplicateIDs) != 1 || train.DuplicateIDs[0].ID != "2" || !reflect.DeepEqual(train.DuplicateIDs[0].Where, []string{"train#1", "train#2"}) {
			t.Errorf("duplicate ids %+v, want id 2 at train#1 and train#2", train.DuplicateIDs)
		}
		if len(rep.DuplicateIDsAcrossSplits) != 1 || rep.DuplicateIDsAcrossSplits[0].ID != "1" {
			t.Errorf("cross-split duplicates %+v, want id 1", rep.DuplicateIDsAcrossSplits)
		}
		if !reflect.DeepEqual(rep.UnlabelledSplits, []string{"test_unseen"}) {
			t.Errorf("unlabelled splits %v", rep.UnlabelledSplits)
		}
		if rep.Splits[1].HatefulFraction != nil {
			t.Error("an unlabelled split has a hateful fraction")
		}
		if want := (Stats{Min: 1, Max: 3, Mean: 2, Median: 2, P95: 2.7}); train.TextWords != want {
			t.Errorf("word stats %+v, want %+v", train.TextWords, want)
		}
		if rep.Splits[2].EmptyTexts != 1 {
			t.Errorf("extra: %d empty texts, want 1", rep.Splits[2].EmptyTexts)
		}
		wantProblems := 2 + len(wantUnreadable) + 1 + 3
		if rep.Problems != wantProblems || rep.OK {
			t.Errorf("problems %d ok %v, want %d and false", rep.Problems, rep.OK, wantProblems)
		}
		chart, err := DataReportChart(context.Background(), rep)
		if err != nil {
			t.Fatal(err)
		}
		if b := chart.Bounds(); b.Dx() < 200 || b.Dy() < 200 {
			t.Errorf("chart is %v", b)
		}
	}
}

func TestSummariseMemesNeedsSplits(t *testing.T) {
	_, err := SummariseMemes(context.Background(), memes.Folder{Root: "/nowhere"}, DataProcessingParams{})
	if err == nil || !strings.Contains(err.Error(), "/nowhere") {
		t.Errorf("error %v, want one naming the folder", err)
	}
}

// catalogWith builds a catalog from one catalog.yml text, as a run does.
func catalogWith(t *testing.T, yml string) *catalog.Catalog {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "base"), 0o755)
	os.WriteFile(filepath.Join(dir, "base", "catalog.yml"), []byte(yml), 0o644)
	cfg, err := config.Load(config.Options{ConfSource: dir})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestMemeFolderNamedSplitsAndSave(t *testing.T) {
	root := writeFolder(t)
	cat := catalogWith(t, "raw_memes:\n  type: meme_folder\n  filepath: "+root+"\n  load_args: {splits: [test_unseen]}\n"+
		"typo:\n  type: meme_folder\n  filepath: "+root+"\n  load_args: {split: [test_unseen]}\n")
	v, err := cat.Load(context.Background(), "raw_memes", reflect.TypeFor[memes.Folder]())
	if err != nil {
		t.Fatal(err)
	}
	f := v.(memes.Folder)
	if len(f.Splits) != 1 || f.Splits[0].Name != "test_unseen" || len(f.Splits[0].Memes) != 2 {
		t.Fatalf("load_args.splits: got %+v", f.Splits)
	}
	format := formats.MemeFolder()
	out := t.TempDir()
	ds, _ := format.New(catalog.Spec{Name: "copy", Filepath: out})
	if ok, _ := ds.Exists(); ok {
		t.Error("an empty folder exists")
	}
	if err := ds.Save(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ds.Exists(); !ok {
		t.Error("a saved folder does not exist")
	}
	os.WriteFile(filepath.Join(out, "stale.jsonl"), []byte("{}\n"), 0o644)
	back := loadFolder(t, out)
	if len(back.Splits) != 2 {
		t.Errorf("plain save: %d splits, want the saved one and stale", len(back.Splits))
	}
	strict := catalogWith(t, "m:\n  type: meme_folder\n  filepath: "+root+"\n  load_args: {strict: true}\n")
	if _, err := strict.Load(context.Background(), "m", reflect.TypeFor[memes.Folder]()); err == nil || !strings.Contains(err.Error(), "train.jsonl:8: field \"label\" is 2") || !strings.Contains(err.Error(), "2 more") {
		t.Errorf("strict load: error %v, want the first bad line with file:line", err)
	}
	excl := catalogWith(t, "m:\n  type: meme_folder\n  filepath: "+out+"\n  save_args: {exclusive: true}\n")
	if err := excl.Save(context.Background(), "m", f); err != nil {
		t.Fatal(err)
	}
	back = loadFolder(t, out)
	back.Root = f.Root
	if !reflect.DeepEqual(back, f) {
		t.Errorf("round trip: %+v, want %+v", back, f)
	}
	if _, err := cat.Load(context.Background(), "typo", reflect.TypeFor[memes.Folder]()); err == nil || !strings.Contains(err.Error(), "split") {
		t.Errorf("misspelled load_args key: error %v, want one naming it", err)
	}
	cat = catalogWith(t, "m:\n  type: meme_folder\n  filepath: "+out+"\n  load_args: {splits: [nope]}\n")
	if _, err := cat.Load(context.Background(), "m", reflect.TypeFor[memes.Folder]()); err == nil || !strings.Contains(err.Error(), "nope.jsonl") {
		t.Errorf("missing named split: error %v", err)
	}
}

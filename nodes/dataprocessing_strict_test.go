package nodes

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/memes"
)

// TestSummariseMemesLabelsAndEmptySplits is issue 16 item 10: an empty
// split and a meme without a label in a labelled split are problems
// (ok: false), the problems are printed, and data_processing.strict
// turns them into an error.
func TestSummariseMemesLabelsAndEmptySplits(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "img"), 0o755)
	os.WriteFile(filepath.Join(root, "img", "1.png"), pngBytes(t), 0o644)
	write := func(name string, lines ...string) {
		os.WriteFile(filepath.Join(root, name+".jsonl"), []byte(strings.Join(lines, "\n")), 0o644)
	}
	meme := func(id, label string) string {
		if label == "" {
			return `{"id": ` + id + `, "img": "img/1.png", "text": "t"}`
		}
		return `{"id": ` + id + `, "img": "img/1.png", "text": "t", "label": ` + label + `}`
	}
	cases := []struct {
		name          string
		splits        map[string][]string
		ok            bool
		problems      int
		missing       map[string][]memes.ID
		empty         []string
		printed       []string
		strictMessage string
	}{
		{"clean", map[string][]string{"train": {meme("1", "0"), meme("2", "1")}, "test_unseen": {meme("3", "")}},
			true, 0, nil, []string{}, nil, ""},
		{"empty train", map[string][]string{"train": {}, "dev_seen": {meme("1", "1")}},
			false, 1, nil, []string{"train"}, []string{"train: the split file holds no meme"}, "1 problem "},
		{"only blank lines", map[string][]string{"train": {"", "  "}},
			false, 1, nil, []string{"train"}, []string{"train: the split file holds no meme"}, "1 problem "},
		{"a train row without a label", map[string][]string{"train": {meme("1", "0"), meme("2", ""), meme("3", "null")}},
			false, 2, map[string][]memes.ID{"train": {"2", "3"}}, []string{}, []string{"train: 2 memes without a label, in a labelled split: 2, 3"}, "2 problems"},
		{"an unlabelled train", map[string][]string{"train": {meme("1", ""), meme("2", "")}},
			false, 2, map[string][]memes.ID{"train": {"1", "2"}}, []string{}, []string{"train: 2 memes without a label"}, "2 problems"},
		{"a dev split with one label missing", map[string][]string{"train": {meme("1", "0")}, "dev_seen": {meme("2", "1"), meme("3", "")}},
			false, 1, map[string][]memes.ID{"dev_seen": {"3"}}, []string{}, []string{"dev_seen: 1 meme without a label, in a labelled split: 3"}, "1 problem "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []string{"train", "dev_seen", "test_unseen"} {
				os.Remove(filepath.Join(root, n+".jsonl"))
			}
			for n, lines := range c.splits {
				write(n, lines...)
			}
			f := loadFolder(t, root)
			var out bytes.Buffer
			rep, err := summariseMemes(context.Background(), f, DataProcessingParams{Workers: 1}, bufLogf(&out))
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != c.ok || rep.Problems != c.problems {
				t.Errorf("ok %v problems %d, want %v %d", rep.OK, rep.Problems, c.ok, c.problems)
			}
			if !reflect.DeepEqual(rep.EmptySplits, c.empty) {
				t.Errorf("empty splits %v, want %v", rep.EmptySplits, c.empty)
			}
			total := 0
			for _, sr := range rep.Splits {
				if want := c.missing[sr.Name]; len(want) > 0 || len(sr.MissingLabels) > 0 {
					if !reflect.DeepEqual(sr.MissingLabels, want) {
						t.Errorf("%s: missing labels %v, want %v", sr.Name, sr.MissingLabels, want)
					}
				}
				total += len(sr.MissingLabels)
			}
			if rep.Totals.MissingLabels != total {
				t.Errorf("total missing labels %d, want %d", rep.Totals.MissingLabels, total)
			}
			if c.ok != (out.Len() == 0) {
				t.Errorf("printed %q", out.String())
			}
			for _, p := range c.printed {
				if !strings.Contains(out.String(), p) || !strings.Contains(out.String(), root) {
					t.Errorf("printed %q, want it to name %s and say %q", out.String(), root, p)
				}
			}
			out.Reset()
			_, err = summariseMemes(context.Background(), f, DataProcessingParams{Workers: 1, Strict: true}, bufLogf(&out))
			if c.ok && err != nil {
				t.Errorf("strict on a clean set: %v", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), c.strictMessage) || !strings.Contains(err.Error(), "data_processing.strict") || out.Len() == 0) {
				t.Errorf("strict: error %v (printed %q), want one saying %q", err, out.String(), c.strictMessage)
			}
		})
	}
}

// TestSummariseMemesPrintsAtMostAScreenful: every problem is in the
// report, the printout stops after maxPrintedProblems lines.
func TestSummariseMemesPrintsAtMostAScreenful(t *testing.T) {
	root := t.TempDir()
	var lines []string
	for i := range 50 {
		lines = append(lines, `{"id": `+strings.Repeat("1", i+1)+`, "img": "img/missing.png", "text": "t", "label": 0}`, "not json")
	}
	os.WriteFile(filepath.Join(root, "train.jsonl"), []byte(strings.Join(lines, "\n")), 0o644)
	var out bytes.Buffer
	rep, err := summariseMemes(context.Background(), loadFolder(t, root), DataProcessingParams{Workers: 1}, bufLogf(&out))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problems != 51 || len(rep.Splits[0].BadLines) != 50 {
		t.Errorf("problems %d, bad lines %d, want 51 and 50", rep.Problems, len(rep.Splits[0].BadLines))
	}
	printed := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(printed) != maxPrintedProblems+2 || !strings.Contains(printed[len(printed)-1], "and 31 more lines") {
		t.Errorf("printed %d lines, ending %q", len(printed), printed[len(printed)-1])
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bufLogf is a logf that writes lines into b.
func bufLogf(b *bytes.Buffer) func(string, ...any) {
	return func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
}

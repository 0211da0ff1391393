package nodes

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"mmc/memes"
	"mmc/plot"
	"mmc/progress"
)

// DataProcessingParams configures the data_processing report.
type DataProcessingParams struct {
	// DecodeImages decodes every image fully (finds truncated files);
	// false reads only the headers, which is faster.
	DecodeImages bool `yaml:"decode_images"`
	// Workers is the number of goroutines checking images; 0 means one
	// per CPU.
	Workers int `yaml:"workers"`
	// Strict fails the node (and the run) when the report lists any
	// problem; otherwise the problems are printed and the run goes on.
	Strict bool `yaml:"strict"`
}

// DataReport summarises a data set: per-split counts, label balance and
// text lengths, and every problem found (nothing is cut short).
type DataReport struct {
	Root             string        `json:"root"`
	Splits           []SplitReport `json:"splits"`
	UnlabelledSplits []string      `json:"unlabelled_splits"`
	// EmptySplits are split files that hold no meme.
	EmptySplits              []string      `json:"empty_splits"`
	DuplicateIDsAcrossSplits []DuplicateID `json:"duplicate_ids_across_splits"`
	Totals                   ReportTotals  `json:"totals"`
	// Problems counts bad lines, missing and unreadable images, ids
	// repeated within a split, memes without a label in a labelled split
	// and empty splits. Ids shared between splits are listed but not
	// counted: the real dev_unseen reuses dev_seen memes.
	Problems int  `json:"problems"`
	OK       bool `json:"ok"`
}

// ReportTotals adds up the splits.
type ReportTotals struct {
	Memes            int `json:"memes"`
	Labelled         int `json:"labelled"`
	Hateful          int `json:"hateful"`
	UniqueImages     int `json:"unique_images"`
	MissingImages    int `json:"missing_images"`
	UnreadableImages int `json:"unreadable_images"`
	BadLines         int `json:"bad_lines"`
	MissingLabels    int `json:"missing_labels"`
}

// SplitReport is one split's summary.
type SplitReport struct {
	Name       string `json:"name"`
	Memes      int    `json:"memes"`
	Labelled   int    `json:"labelled"`
	Unlabelled int    `json:"unlabelled"`
	Hateful    int    `json:"hateful"`
	NotHateful int    `json:"not_hateful"`
	// HatefulFraction is Hateful/Labelled, null for an unlabelled split.
	HatefulFraction  *float64       `json:"hateful_fraction"`
	TextChars        Stats          `json:"text_chars"`
	TextWords        Stats          `json:"text_words"`
	EmptyTexts       int            `json:"empty_texts"`
	UniqueImages     int            `json:"unique_images"`
	MissingImages    []ImageProblem `json:"missing_images"`
	UnreadableImages []ImageProblem `json:"unreadable_images"`
	DuplicateIDs     []DuplicateID  `json:"duplicate_ids"`
	BadLines         []string       `json:"bad_lines"`
	// MissingLabels are the memes without a label in a labelled split:
	// train, or any split where some memes have one.
	MissingLabels []memes.ID `json:"missing_labels"`
}

// Stats describes a distribution of lengths.
type Stats struct {
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
}

// ImageProblem is a meme whose image is missing or cannot be decoded.
type ImageProblem struct {
	ID    memes.ID `json:"id"`
	Img   string   `json:"img"`
	Error string   `json:"error"`
}

// DuplicateID is an id seen more than once; Where lists "split#index"
// (0-based position in the split file) for every occurrence.
type DuplicateID struct {
	ID    memes.ID `json:"id"`
	Where []string `json:"where"`
}

// SummariseMemes validates and summarises a data set. Every image is
// checked, in parallel, and each problem is listed in the report and
// told through progress.Logf. The node fails when the folder holds no
// split at all, or, with p.Strict, when there is any problem.
func SummariseMemes(ctx context.Context, f memes.Folder, p DataProcessingParams) (DataReport, error) {
	return summariseMemes(ctx, f, p, progress.Logf)
}

// maxPrintedProblems bounds what summariseMemes prints; the report lists
// every problem.
const maxPrintedProblems = 20

// summariseMemes is SummariseMemes telling the problems through logf.
func summariseMemes(ctx context.Context, f memes.Folder, p DataProcessingParams, logf func(format string, args ...any)) (DataReport, error) {
	if len(f.Splits) == 0 {
		return DataReport{}, fmt.Errorf("data_processing: no split files (*.jsonl) under %s", f.Root)
	}
	rep := DataReport{Root: f.Root, UnlabelledSplits: []string{}, EmptySplits: []string{}, DuplicateIDsAcrossSplits: []DuplicateID{}}
	imgErr, err := checkAllImages(ctx, f, p)
	if err != nil {
		return DataReport{}, err
	}
	where := map[memes.ID][]string{}
	splitsOf := map[memes.ID]map[string]bool{}
	allImages := map[string]bool{}
	for _, s := range f.Splits {
		sr := summariseSplit(s, imgErr)
		for i, m := range s.Memes {
			where[m.ID] = append(where[m.ID], fmt.Sprintf("%s#%d", s.Name, i))
			if splitsOf[m.ID] == nil {
				splitsOf[m.ID] = map[string]bool{}
			}
			splitsOf[m.ID][s.Name] = true
			allImages[m.Img] = true
		}
		if sr.Labelled == 0 && sr.Memes > 0 {
			rep.UnlabelledSplits = append(rep.UnlabelledSplits, s.Name)
		}
		if sr.Memes == 0 {
			rep.EmptySplits = append(rep.EmptySplits, s.Name)
			rep.Problems++
		}
		t := &rep.Totals
		t.Memes += sr.Memes
		t.Labelled += sr.Labelled
		t.Hateful += sr.Hateful
		t.MissingImages += len(sr.MissingImages)
		t.UnreadableImages += len(sr.UnreadableImages)
		t.BadLines += len(sr.BadLines)
		t.MissingLabels += len(sr.MissingLabels)
		rep.Problems += len(sr.MissingImages) + len(sr.UnreadableImages) + len(sr.DuplicateIDs) + len(sr.BadLines) + len(sr.MissingLabels)
		rep.Splits = append(rep.Splits, sr)
	}
	rep.Totals.UniqueImages = len(allImages)
	ids := make([]memes.ID, 0, len(splitsOf))
	for id, ss := range splitsOf {
		if len(ss) > 1 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		rep.DuplicateIDsAcrossSplits = append(rep.DuplicateIDsAcrossSplits, DuplicateID{ID: id, Where: where[id]})
	}
	rep.OK = rep.Problems == 0
	if rep.OK {
		return rep, nil
	}
	lines := problemLines(rep)
	logf("data_processing: %s in %s (the data report lists them all):", dpCount(rep.Problems, "problem"), rep.Root)
	for i, l := range lines {
		if i == maxPrintedProblems {
			logf("  … and %d more lines", len(lines)-i)
			break
		}
		logf("  %s", l)
	}
	if p.Strict {
		return DataReport{}, fmt.Errorf("data_processing: %s in %s, and data_processing.strict is true (first: %s)", dpCount(rep.Problems, "problem"), rep.Root, lines[0])
	}
	return rep, nil
}

// dpCount is "1 problem", "2 problems".
func dpCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// problemLines describes the problems of rep, split by split: one line
// each, but one for all the memes of a split that lack a label.
func problemLines(rep DataReport) []string {
	var out []string
	for _, sr := range rep.Splits {
		if slices.Contains(rep.EmptySplits, sr.Name) {
			out = append(out, fmt.Sprintf("%s: the split file holds no meme", sr.Name))
		}
		out = append(out, sr.BadLines...)
		if n := len(sr.MissingLabels); n > 0 {
			ids := make([]string, 0, min(n, 10))
			for _, id := range sr.MissingLabels[:min(n, 10)] {
				ids = append(ids, string(id))
			}
			more := ""
			if n > 10 {
				more = fmt.Sprintf(" … (%d in all)", n)
			}
			out = append(out, fmt.Sprintf("%s: %s without a label, in a labelled split: %s%s", sr.Name, dpCount(n, "meme"), strings.Join(ids, ", "), more))
		}
		for _, ip := range sr.MissingImages {
			out = append(out, fmt.Sprintf("%s: meme %s: image %s is missing", sr.Name, ip.ID, ip.Img))
		}
		for _, ip := range sr.UnreadableImages {
			out = append(out, fmt.Sprintf("%s: meme %s: %s", sr.Name, ip.ID, ip.Error))
		}
		for _, d := range sr.DuplicateIDs {
			out = append(out, fmt.Sprintf("%s: id %s appears %d times (%s)", sr.Name, d.ID, len(d.Where), strings.Join(d.Where, ", ")))
		}
	}
	return out
}

func summariseSplit(s memes.Split, imgErr map[string]error) SplitReport {
	sr := SplitReport{
		Name: s.Name, Memes: len(s.Memes),
		MissingImages: []ImageProblem{}, UnreadableImages: []ImageProblem{},
		DuplicateIDs: []DuplicateID{}, BadLines: append([]string{}, s.BadLines...),
		MissingLabels: []memes.ID{},
	}
	chars := make([]float64, 0, len(s.Memes))
	words := make([]float64, 0, len(s.Memes))
	seen := map[memes.ID][]string{}
	var order []memes.ID
	images := map[string]bool{}
	for i, m := range s.Memes {
		if m.Label == nil {
			sr.Unlabelled++
		} else {
			sr.Labelled++
			if *m.Label == 1 {
				sr.Hateful++
			} else {
				sr.NotHateful++
			}
		}
		if strings.TrimSpace(m.Text) == "" {
			sr.EmptyTexts++
		}
		chars = append(chars, float64(utf8.RuneCountInString(m.Text)))
		words = append(words, float64(len(strings.Fields(m.Text))))
		if _, dup := seen[m.ID]; !dup {
			order = append(order, m.ID)
		}
		seen[m.ID] = append(seen[m.ID], fmt.Sprintf("%s#%d", s.Name, i))
		if images[m.Img] {
			continue // one report per image, not per meme showing it
		}
		images[m.Img] = true
		if err := imgErr[m.Img]; err != nil {
			prob := ImageProblem{ID: m.ID, Img: m.Img, Error: err.Error()}
			if errors.Is(err, fs.ErrNotExist) {
				sr.MissingImages = append(sr.MissingImages, prob)
			} else {
				sr.UnreadableImages = append(sr.UnreadableImages, prob)
			}
		}
	}
	sr.UniqueImages = len(images)
	for _, id := range order {
		if len(seen[id]) > 1 {
			sr.DuplicateIDs = append(sr.DuplicateIDs, DuplicateID{ID: id, Where: seen[id]})
		}
	}
	if sr.Labelled > 0 {
		frac := float64(sr.Hateful) / float64(sr.Labelled)
		sr.HatefulFraction = &frac
	}
	// Training needs every label; any other split with labels is one the
	// user evaluates on, where a missing label would silently shrink it.
	if sr.Unlabelled > 0 && (sr.Labelled > 0 || s.Name == "train") {
		for _, m := range s.Memes {
			if m.Label == nil {
				sr.MissingLabels = append(sr.MissingLabels, m.ID)
			}
		}
	}
	sr.TextChars = describe(chars)
	sr.TextWords = describe(words)
	return sr
}

// checkAllImages checks each distinct image path once, with a pool of
// workers, and returns the error of every bad one.
func checkAllImages(ctx context.Context, f memes.Folder, p DataProcessingParams) (map[string]error, error) {
	var first []memes.Meme // the first meme showing each image
	seen := map[string]bool{}
	for _, s := range f.Splits {
		for _, m := range s.Memes {
			if !seen[m.Img] {
				seen[m.Img] = true
				first = append(first, m)
			}
		}
	}
	workers := p.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan memes.Meme)
	var mu sync.Mutex
	bad := map[string]error{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				var err error
				if p.DecodeImages {
					_, err = m.Image(f.Root)
				} else if errs := memes.CheckImages(f.Root, []memes.Meme{m}); len(errs) > 0 {
					err = errs[0]
				}
				if err != nil {
					mu.Lock()
					bad[m.Img] = err
					mu.Unlock()
				}
			}
		}()
	}
	var cerr error
	for _, m := range first {
		if cerr = ctx.Err(); cerr != nil {
			break
		}
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	if cerr != nil {
		return nil, fmt.Errorf("data_processing: checking images under %s: %w", f.Root, cerr)
	}
	return bad, nil
}

// describe computes Stats; all zeros for no values.
func describe(v []float64) Stats {
	if len(v) == 0 {
		return Stats{}
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Stats{
		Min: s[0], Max: s[len(s)-1],
		Mean:   round3(sum / float64(len(s))),
		Median: quantile(s, 0.5),
		P95:    quantile(s, 0.95),
	}
}

// quantile interpolates linearly between order statistics (NumPy's
// default method).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return round3(sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo]))
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// DataReportChart draws the report as grouped bars: for each split, the
// memes labelled not hateful, hateful, unlabelled, and those whose image
// is missing or unreadable.
func DataReportChart(_ context.Context, r DataReport) (image.Image, error) {
	cats := make([]string, len(r.Splits))
	groups := []plot.BarGroup{{Name: "not hateful"}, {Name: "hateful"}, {Name: "unlabelled"}, {Name: "bad image"}}
	for i, s := range r.Splits {
		cats[i] = s.Name
		groups[0].Values = append(groups[0].Values, float64(s.NotHateful))
		groups[1].Values = append(groups[1].Values, float64(s.Hateful))
		groups[2].Values = append(groups[2].Values, float64(s.Unlabelled))
		groups[3].Values = append(groups[3].Values, float64(len(s.MissingImages)+len(s.UnreadableImages)))
	}
	title := fmt.Sprintf("%s: %d memes, %d problems", r.Root, r.Totals.Memes, r.Problems)
	img, err := plot.BarChart(plot.Options{Title: title, XLabel: "split", YLabel: "memes"}, cats, groups...)
	if err != nil {
		return nil, fmt.Errorf("data report chart: %w", err)
	}
	return img, nil
}

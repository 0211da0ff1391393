package nodes

import (
	"context"
	"fmt"
	"os"
	"sync"

	"mmc/features"
	"mmc/features/extract"
	"mmc/memes"
	"mmc/progress"
)

// ExtractFeatures runs the configured image feature extractor over the
// images of the folder's splits. The records are computed while the
// feature store consumes them, in batches of p.BatchSize images, so a
// data set's features never sit in memory together; the store records
// the extractor's name and parameters. An image several memes share is
// extracted once, under its file stem.
func ExtractFeatures(ctx context.Context, p extract.Params, folder memes.Folder) (extract.Regions, error) {
	k, err := p.Selected()
	if err != nil {
		return nil, err
	}
	name, params, err := provenance(p, k)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range p.Splits {
		want[s] = true
	}
	r := &extractedRegions{ctx: ctx, root: folder.Root, batch: p.BatchSize, name: name, params: params}
	if r.batch <= 0 {
		r.batch = 8
	}
	seen := map[string]bool{}
	for _, s := range folder.Splits {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		delete(want, s.Name)
		ms, err := folder.Memes(s.Name)
		if err != nil {
			return nil, fmt.Errorf("extract features: %w", err)
		}
		for _, m := range ms {
			id := features.FeaturePath(m.Img)
			if !seen[id] {
				seen[id] = true
				r.images = append(r.images, extract.Image{ID: id, Path: m.Img})
			}
		}
	}
	if len(want) > 0 {
		for s := range want {
			return nil, fmt.Errorf("extract features: split %q not found in %s", s, folder.Root)
		}
	}
	if len(r.images) == 0 {
		return nil, fmt.Errorf("extract features: no images in the splits of %s", folder.Root)
	}
	r.build = sync.OnceValues(func() (extract.Extractor, error) {
		ex, err := k.New(folder.Root)
		if err != nil {
			return nil, fmt.Errorf("extract features (%s): %w", name, err)
		}
		return ex, nil
	})
	// A backbone (and its weight file, up to a GB) is loaded when the
	// store first needs it: a store that already holds every image never
	// does. Its cheap checks (the weight file is there) run now. Other
	// extractors are built now.
	if c, ok := k.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return nil, fmt.Errorf("extract features (%s): %w", name, err)
		}
	} else if _, err := r.build(); err != nil {
		return nil, err
	}
	return r, nil
}

// provenance is what a store of p's features records: the extractor's
// name and parameters, with the backbone that made them (the store then
// tells features of the random demo backbone from real ones).
func provenance(p extract.Params, k extract.Kind) (string, map[string]any, error) {
	name, params, err := p.Provenance()
	if err != nil {
		return "", nil, err
	}
	if b, ok := k.(interface{ BackboneID() string }); ok {
		params["backbone"] = b.BackboneID()
	}
	return name, params, nil
}

// extractedRegions is the stream ExtractFeatures returns; it carries the
// provenance (Extractor, ExtractorParams) and padding width (MaxRegions)
// the feature stores ask for.
type extractedRegions struct {
	ctx    context.Context
	root   string
	batch  int
	name   string
	params map[string]any
	images []extract.Image // without pixels: decoded batch by batch
	build  func() (extract.Extractor, error)
}

func (r *extractedRegions) Len() int { return len(r.images) }

// Notify shows a feature store's notice (store found, extraction resumed).
func (r *extractedRegions) Notify(msg string) { progress.Logf("%s", msg) }

// MaxRegions is the extractor's; 0 when it cannot be built (Each then
// returns why).
func (r *extractedRegions) MaxRegions() int {
	ex, err := r.build()
	if err != nil {
		return 0
	}
	return ex.MaxRegions()
}
func (r *extractedRegions) Extractor() string               { return r.name }
func (r *extractedRegions) ExtractorParams() map[string]any { return r.params }

// ImageIDs are the ids of the images Each extracts, in order.
func (r *extractedRegions) ImageIDs() []string {
	ids := make([]string, len(r.images))
	for i, im := range r.images {
		ids[i] = im.ID
	}
	return ids
}

// Each decodes and extracts one batch at a time and checks every record
// against its image before handing it on.
func (r *extractedRegions) Each(fn func(*features.Record) error) error {
	return r.EachMissing(func(string) bool { return false }, fn)
}

// EachMissing is Each over the images have reports false for (the
// feature store resuming an interrupted extraction asks for those).
func (r *extractedRegions) EachMissing(have func(id string) bool, fn func(*features.Record) error) error {
	var todo []extract.Image
	for _, im := range r.images {
		if !have(im.ID) {
			todo = append(todo, im)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	ex, err := r.build()
	if err != nil {
		return err
	}
	label := "extract features (" + r.name + ")"
	if done := len(r.images) - len(todo); done > 0 {
		label = fmt.Sprintf("extract features (%s, %d of %d already done)", r.name, done, len(r.images))
	}
	bar := progress.New(os.Stderr, len(todo), label).WithRate("images")
	defer bar.Finish()
	for start := 0; start < len(todo); start += r.batch {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		batch := append([]extract.Image(nil), todo[start:min(start+r.batch, len(todo))]...)
		for i := range batch {
			px, err := memes.LoadImage(r.root, batch[i].Path)
			if err != nil {
				return fmt.Errorf("extract features (%s): %w", r.name, err)
			}
			batch[i].Pixels = px
		}
		recs, err := ex.Extract(r.ctx, batch)
		if err != nil {
			return fmt.Errorf("extract features (%s): %w", r.name, err)
		}
		if len(recs) != len(batch) {
			return fmt.Errorf("extract features (%s): %d records for %d images", r.name, len(recs), len(batch))
		}
		for i, rec := range recs {
			if rec == nil || rec.ID != batch[i].ID {
				return fmt.Errorf("extract features (%s): record %d of a batch is not image %s", r.name, i, batch[i].ID)
			}
			if err := rec.Validate(); err != nil {
				return fmt.Errorf("extract features (%s): %w", r.name, err)
			}
			if rec.NumBoxes > ex.MaxRegions() {
				return fmt.Errorf("extract features (%s): image %s has %d regions, more than the extractor's maximum %d", r.name, rec.ID, rec.NumBoxes, ex.MaxRegions())
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		bar.Add(len(batch))
	}
	return nil
}

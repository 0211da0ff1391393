package nodes

import (
	"context"
	"fmt"
	"os"

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
	name, params, err := p.Provenance()
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
	if r.ex, err = k.New(folder.Root); err != nil {
		return nil, fmt.Errorf("extract features (%s): %w", name, err)
	}
	return r, nil
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
	ex     extract.Extractor
}

func (r *extractedRegions) Len() int                        { return len(r.images) }
func (r *extractedRegions) MaxRegions() int                 { return r.ex.MaxRegions() }
func (r *extractedRegions) Extractor() string               { return r.name }
func (r *extractedRegions) ExtractorParams() map[string]any { return r.params }

// Each decodes and extracts one batch at a time and checks every record
// against its image before handing it on.
func (r *extractedRegions) Each(fn func(*features.Record) error) error {
	bar := progress.New(os.Stderr, len(r.images), "extract features ("+r.name+")")
	defer bar.Finish()
	for start := 0; start < len(r.images); start += r.batch {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		batch := append([]extract.Image(nil), r.images[start:min(start+r.batch, len(r.images))]...)
		for i := range batch {
			px, err := memes.LoadImage(r.root, batch[i].Path)
			if err != nil {
				return fmt.Errorf("extract features (%s): %w", r.name, err)
			}
			batch[i].Pixels = px
		}
		recs, err := r.ex.Extract(r.ctx, batch)
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
			if rec.NumBoxes > r.ex.MaxRegions() {
				return fmt.Errorf("extract features (%s): image %s has %d regions, more than the extractor's maximum %d", r.name, rec.ID, rec.NumBoxes, r.ex.MaxRegions())
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		bar.Add(len(batch))
	}
	return nil
}

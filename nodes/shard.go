package nodes

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/features/extract"
	"mmc/memes"
	"mmc/partition"
)

// ExtractFeatureShard is ExtractFeatures over one shard of the images:
// the shard.Index-th of shard.Count contiguous slices of the images
// ExtractFeatures would process, in the same order. It returns one
// partition, named by the shard, whose metadata records the extractor's
// region width so the merge pads exactly as the unsharded store does.
func ExtractFeatureShard(ctx context.Context, p extract.Params, shard partition.Shard, folder memes.Folder) (partition.Parts[extract.Regions], error) {
	var none partition.Parts[extract.Regions]
	if err := shard.Validate(); err != nil {
		return none, fmt.Errorf("extract features: %w", err)
	}
	all, err := ExtractFeatures(ctx, p, folder)
	if err != nil {
		return none, err
	}
	r, ok := all.(*extractedRegions)
	if !ok {
		return none, fmt.Errorf("extract features: cannot shard a %T stream", all)
	}
	lo, hi := shard.Range(len(r.images))
	if lo == hi {
		return none, fmt.Errorf("extract features: shard %s has no images (%d images for %d shards): use fewer shards", shard, len(r.images), max(shard.Count, 1))
	}
	r.images = r.images[lo:hi]
	id := shard.ID()
	meta := map[string]any{"max_regions": r.MaxRegions(), "extractor": r.name, "images": len(r.images), "first_image": r.images[0].ID}
	return partition.Of(map[string]extract.Regions{id: r}, map[string]map[string]any{id: meta}), nil
}

// MergeFeatureParts joins the partitions of a sharded extraction, in
// shard order, into one stream for the feature store: the same records
// in the same order, with the same provenance and region width, as the
// unsharded ExtractFeatures. Every shard of one sharding must be there.
func MergeFeatureParts(ctx context.Context, p extract.Params, parts partition.Parts[extract.Regions]) (extract.Regions, error) {
	ids := parts.IDs()
	if _, err := partition.Complete(ids); err != nil {
		return nil, fmt.Errorf("merge feature parts: %w", err)
	}
	name, params, err := p.Provenance()
	if err != nil {
		return nil, err
	}
	m := &mergedRegions{ctx: ctx, parts: parts, ids: ids, name: name, params: params}
	for _, id := range ids {
		part, err := parts.Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("merge feature parts: %w", err)
		}
		m.n += part.Len()
		meta := parts.Meta(id)
		if ex, ok := meta["extractor"].(string); ok && ex != name {
			return nil, fmt.Errorf("merge feature parts: partition %s was made by extractor %q, the parameters name %q: run the shards again", id, ex, name)
		}
		w, ok := meta["max_regions"].(float64)
		if !ok {
			return nil, fmt.Errorf("merge feature parts: partition %s has no max_regions metadata (%s.meta.json): run its shard again", id, id)
		}
		m.most = max(m.most, int(w))
	}
	return m, nil
}

// mergedRegions streams the partitions one after the other.
type mergedRegions struct {
	ctx    context.Context
	parts  partition.Parts[extract.Regions]
	ids    []string
	n      int
	most   int
	name   string
	params map[string]any
}

func (m *mergedRegions) Len() int                        { return m.n }
func (m *mergedRegions) MaxRegions() int                 { return m.most }
func (m *mergedRegions) Extractor() string               { return m.name }
func (m *mergedRegions) ExtractorParams() map[string]any { return m.params }

func (m *mergedRegions) Each(fn func(*features.Record) error) error {
	for _, id := range m.ids {
		part, err := m.parts.Get(m.ctx, id)
		if err != nil {
			return err
		}
		if err := part.Each(fn); err != nil {
			return fmt.Errorf("partition %s: %w", id, err)
		}
	}
	return nil
}

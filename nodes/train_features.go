package nodes

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/synth"
)

// IndexRegions reads a stream of region records (the synthetic
// detector's output) into memory for random access by image id.
func IndexRegions(_ context.Context, rs synth.Regions) (features.Reader, error) {
	idx := &memoryFeatures{recs: make(map[string]*features.Record, rs.Len())}
	err := rs.Each(func(r *features.Record) error {
		if _, dup := idx.recs[r.ID]; dup {
			return fmt.Errorf("index regions: image id %q appears twice", r.ID)
		}
		idx.recs[r.ID] = r
		idx.ids = append(idx.ids, r.ID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index regions: %w", err)
	}
	return idx, nil
}

// memoryFeatures is a features.Reader over records held in memory;
// it is never written after IndexRegions, so concurrent reads are safe.
type memoryFeatures struct {
	recs map[string]*features.Record
	ids  []string
}

func (m *memoryFeatures) Get(id string) (*features.Record, error) {
	r, ok := m.recs[id]
	if !ok {
		return nil, fmt.Errorf("no region features for image %q (%d images indexed)", id, len(m.recs))
	}
	return r, nil
}

func (m *memoryFeatures) IDs() []string { return append([]string(nil), m.ids...) }

func (m *memoryFeatures) Close() error { return nil }

package nodes

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/memes"
	"mmc/synth"
)

// GenerateSyntheticMemes builds the synthetic meme set (see package
// synth): the split files, as a memes.Folder the catalog writes as
// <split>.jsonl, and the scenes the catalog renders into img/ with their
// sidecars.
func GenerateSyntheticMemes(ctx context.Context, p synth.Params) (memes.Folder, *synth.Set, error) {
	set, err := synth.Generate(p)
	if err != nil {
		return memes.Folder{}, nil, err
	}
	if err := ctx.Err(); err != nil {
		return memes.Folder{}, nil, err
	}
	f := memes.Folder{}
	for _, sd := range set.Splits {
		f.Splits = append(f.Splits, memes.Split{Name: sd.Name, Memes: sd.Memes})
	}
	return f, set, nil
}

// SyntheticDetector is the synthetic stand-in for region-feature
// extraction: it returns the region features of every meme image, once
// for the MMF detectron.lmdb store and once for the HDF5 store. The
// features are computed while each store consumes them, so they never
// sit in memory all at once.
func SyntheticDetector(ctx context.Context, set *synth.Set, p synth.DetectorParams) (synth.Regions, synth.Regions, error) {
	det, err := synth.NewDetector(p)
	if err != nil {
		return nil, nil, err
	}
	if len(set.Splits) == 0 {
		return nil, nil, fmt.Errorf("synthetic detector: the scene set has no splits")
	}
	regions := &ctxRegions{ctx: ctx, DetectedRegions: &synth.DetectedRegions{Set: set, Detector: det}}
	return regions, regions, nil
}

// ctxRegions stops an iteration when the run is cancelled.
type ctxRegions struct {
	ctx context.Context
	*synth.DetectedRegions
}

func (r *ctxRegions) Each(fn func(*features.Record) error) error {
	return r.DetectedRegions.Each(func(rec *features.Record) error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		return fn(rec)
	})
}

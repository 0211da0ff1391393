package nodes

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/features/extract"
	"mmc/memes"
	"mmc/ml/models"
)

// ExtractForTraining is the first node of the extract-then-train
// pipelines (pipelines.ExtractTrain): it checks what training will need
// before any work (a missing init_weights file fails here, not after an
// hour of extraction), then returns ExtractFeatures' stream. The feature
// store's catalog format runs the extractor only for the images it does
// not hold yet: a store made with the same extractor parameters is
// reused, one made with other parameters is an error, and an
// interrupted extraction resumes (see catalog/featureds).
func ExtractForTraining(ctx context.Context, ep extract.Params, tp TrainParams, folder memes.Folder) (extract.Regions, error) {
	if err := tp.validate(); err != nil {
		return nil, err
	}
	if err := models.CheckInitWeights(tp.Model); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return ExtractFeatures(ctx, ep, folder)
}

// opener is a saved feature store that opens for random access (the
// region-feature catalog formats load a *featureds.Records).
type opener interface {
	Open() (features.Reader, error)
}

// OpenRegions opens an extracted feature store for the training nodes'
// random access by image id. A stream that is not a saved store is
// indexed in memory.
func OpenRegions(ctx context.Context, rs extract.Regions) (features.Reader, error) {
	if o, ok := rs.(opener); ok {
		return o.Open()
	}
	if r, ok := rs.(features.Reader); ok {
		return r, nil
	}
	return IndexRegions(ctx, rs)
}

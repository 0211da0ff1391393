package nodes

import (
	"context"
	"encoding/json"
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
// random access by image id, after checking it holds the features of
// the extractor parameters ep (a run that skipped the extraction node,
// as --only-missing-outputs does, must not train on a stale store). A
// stream that is not a saved store is indexed in memory.
func OpenRegions(ctx context.Context, ep extract.Params, rs extract.Regions) (features.Reader, error) {
	o, ok := rs.(opener)
	if !ok {
		return IndexRegions(ctx, rs)
	}
	r, err := o.Open()
	if err != nil {
		return nil, err
	}
	k, err := ep.Selected()
	if err != nil {
		r.Close()
		return nil, err
	}
	name, params, err := provenance(ep, k)
	if err != nil {
		r.Close()
		return nil, err
	}
	if got := extractorOf(r); got == nil || !sameExtractor(r, &models.ExtractorRecord{Name: name, Params: params}) {
		r.Close()
		was := "no extractor"
		if got != nil {
			b, _ := json.Marshal(got.Params)
			was = fmt.Sprintf("%s with %s", got.Name, b)
		}
		where := "the feature store"
		if p, ok := rs.(interface{ Path() string }); ok {
			where = p.Path()
		}
		now, _ := json.Marshal(params)
		return nil, fmt.Errorf("%s records %s; the parameters now give %s with %s (other parameters: its features are not reused): extract again (delete it) or restore the parameters", where, was, name, now)
	}
	return r, nil
}

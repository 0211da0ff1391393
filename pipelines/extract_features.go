package pipelines

import (
	"mmc/catalog"
	"mmc/features/extract"
	"mmc/flow"
	"mmc/nodes"
)

// Datasets and parameters of the extract_features pipeline.
var (
	ExtractParams = catalog.Param[extract.Params]("extract_features")
	// ExtractedFeatures is the feature store the extractor writes (HDF5,
	// recording the extractor's name and parameters).
	ExtractedFeatures = catalog.Declare[extract.Regions]("extracted_features")
)

// ExtractFeatures runs the configured image feature extractor
// (features/extract) over raw_memes' images into a feature store.
func ExtractFeatures() *flow.Pipeline {
	return flow.New(
		flow.Node2("extract_features", nodes.ExtractFeatures, ExtractParams, RawMemes, ExtractedFeatures).Tagged("features"),
	)
}

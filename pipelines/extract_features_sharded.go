package pipelines

import (
	"mmc/catalog"
	"mmc/features/extract"
	"mmc/flow"
	"mmc/nodes"
	"mmc/partition"
)

// Datasets and parameters of the extract_features_sharded pipeline.
var (
	// ShardParam is the shard a run processes (`run --shard i/n`
	// sets it; parameters_shard.yml has the whole-work default 0/1).
	ShardParam = catalog.Param[partition.Shard]("shard")
	// ExtractedFeatureParts is one feature store per shard.
	ExtractedFeatureParts = catalog.Declare[partition.Parts[extract.Regions]]("extracted_feature_parts")
)

// ExtractFeaturesSharded is extract_features split for a cluster: the
// shardable node extracts the i-th of n slices of the images into its
// own partition (`run --shard i/n --nodes extract_feature_shard`, one
// task per shard in an export with --shards n), and the merge node
// builds the same store extract_features writes.
func ExtractFeaturesSharded() *flow.Pipeline {
	return flow.New(
		flow.Wire3("extract_feature_shard", nodes.ExtractFeatureShard).
			Reads(ExtractParams, ShardParam, RawMemes).Writes(ExtractedFeatureParts).Tagged("features", partition.Tag),
		flow.Node2("merge_feature_parts", nodes.MergeFeatureParts, ExtractParams, ExtractedFeatureParts, ExtractedFeatures).Tagged("features"),
	)
}

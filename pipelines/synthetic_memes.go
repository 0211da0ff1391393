// Package pipelines wires nodes into the named pipelines: which nodes,
// which datasets, which parameters. It holds no logic of its own.
package pipelines

import (
	"mmc/catalog"
	"mmc/flow"
	"mmc/memes"
	"mmc/nodes"
	"mmc/synth"
)

// Datasets and parameters of the synthetic_memes pipeline.
var (
	SyntheticParams         = catalog.Param[synth.Params]("synthetic")
	SyntheticDetectorParams = catalog.Param[synth.DetectorParams]("synthetic.detector")
	// SyntheticMemeFiles is the split files (<split>.jsonl) of the set.
	SyntheticMemeFiles = catalog.Declare[memes.Folder]("synthetic_memes")
	// SyntheticScenes is the pictures (img/), sidecars and parameters.
	SyntheticScenes = catalog.Declare[*synth.Set]("synthetic_scenes")
	// SyntheticDetectronLMDB and SyntheticFeaturesH5 hold the same region
	// features in MMF's detectron.lmdb format and in the HDF5 layout.
	SyntheticDetectronLMDB = catalog.Declare[synth.Regions]("synthetic_detectron_lmdb")
	SyntheticFeaturesH5    = catalog.Declare[synth.Regions]("synthetic_features_h5")
)

// SyntheticMemes generates the embedded default data set in the
// Hateful Memes on-disk layout and its region features: memes whose
// label needs both the caption and the picture.
func SyntheticMemes() *flow.Pipeline {
	return flow.New(
		flow.Node1x2("generate_synthetic_memes", nodes.GenerateSyntheticMemes,
			SyntheticParams, SyntheticMemeFiles, SyntheticScenes).Tagged("synthetic", "data"),
		flow.Wire2x2("synthetic_detector", nodes.SyntheticDetector).
			Reads(SyntheticScenes, SyntheticDetectorParams).
			Writes(SyntheticDetectronLMDB, SyntheticFeaturesH5).Tagged("synthetic", "features"),
	)
}

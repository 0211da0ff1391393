package pipelines

import (
	"image"
	"sync"

	"mmc/catalog"
	"mmc/features"
	"mmc/flow"
	"mmc/memes"
	"mmc/ml/metrics"
	"mmc/ml/models"
	"mmc/ml/train"
	"mmc/nodes"
)

// Datasets and parameters of the training template. Namespacing (see
// trainPipeline) prefixes them with the pipeline's name, so
// "best_model" of vilbert_lmdb_train is "vilbert_lmdb_train.best_model"
// and its parameters are parameters_train.yml → vilbert_lmdb_train.
var (
	trainMemes     = catalog.Declare[memes.Folder]("memes")
	trainFeatures  = catalog.Declare[features.Reader]("region_features")
	trainParams    = catalog.Param[nodes.TrainParams]("train")
	testParams     = catalog.Param[nodes.EvalParams]("evaluate")
	bestModel      = catalog.Declare[models.Trained]("best_model")
	history        = catalog.Declare[train.History]("training_history")
	testPreds      = catalog.Declare[nodes.Predictions]("test_predictions")
	testMetrics    = catalog.Declare[metrics.Binary]("test_metrics")
	submission     = catalog.Declare[[]nodes.SubmissionRow]("submission")
	rocCurve       = catalog.Declare[image.Image]("roc_curve")
	trainingCurves = catalog.Declare[image.Image]("training_curves")
)

// Shared inputs of the training pipelines.
var (
	// MMFDetectronLMDB is MMF's detectron.lmdb (100 regions per image).
	MMFDetectronLMDB = catalog.Declare[features.Reader]("mmf_detectron_lmdb")
	// VGFeaturesH5 is the HDF5 store of precomputed VG detector features.
	VGFeaturesH5 = catalog.Declare[features.Reader]("vg_features_h5")
	// SyntheticRegionIndex is the synthetic detector's regions, indexed
	// in memory by image id.
	SyntheticRegionIndex = catalog.Declare[features.Reader]("synthetic_region_index")
)

// trainEvaluate is the template every training pipeline instantiates:
// train with validation and early stopping, predict the test split,
// score it, write the submission and the two charts.
func trainEvaluate() *flow.Pipeline {
	return flow.New(
		flow.Wire3x2("train_model", nodes.TrainModel).
			Reads(trainParams, trainMemes, trainFeatures).Writes(bestModel, history).Tagged("train"),
		flow.Wire4("predict_test", nodes.PredictFolder).
			Reads(testParams, bestModel, trainMemes, trainFeatures).Writes(testPreds).Tagged("evaluate"),
		flow.Node1("evaluate_test", nodes.EvaluatePredictions, testPreds, testMetrics).Tagged("evaluate"),
		flow.Node1("write_submission", nodes.Submission, testPreds, submission).Tagged("evaluate"),
		flow.Node1("plot_roc_curve", nodes.ROCCurvePlot, testPreds, rocCurve).Tagged("report"),
		flow.Node1("plot_training_curves", nodes.TrainingCurvesPlot, history, trainingCurves).Tagged("report"),
	)
}

// trainPipeline namespaces the template as name, reading memes and
// region features from the given shared datasets.
func trainPipeline(name string, memes catalog.Handle[memes.Folder], feats catalog.Handle[features.Reader]) *flow.Pipeline {
	return flow.Namespaced(trainEvaluate(), name, flow.Remap{Inputs: flow.Renames(
		flow.Rename(trainMemes, memes),
		flow.Rename(trainFeatures, feats),
	)})
}

// ViLBERTLMDBTrain trains ViLBERT on the Hateful Memes splits with MMF's
// detectron.lmdb region features, picks the best epoch by validation
// AUROC and evaluates it on the test split.
func ViLBERTLMDBTrain() *flow.Pipeline {
	return trainPipeline("vilbert_lmdb_train", RawMemes, MMFDetectronLMDB)
}

// ViLBERTPrecomputedTrain is ViLBERTLMDBTrain on the HDF5 feature store.
func ViLBERTPrecomputedTrain() *flow.Pipeline {
	return trainPipeline("vilbert_precomputed_train", RawMemes, VGFeaturesH5)
}

// TextOnlyBaseline is the unimodal text baseline (the paper's Text BERT):
// BERT on the caption alone, trained and evaluated like ViLBERT.
func TextOnlyBaseline() *flow.Pipeline {
	return trainPipeline("text_only_baseline", RawMemes, MMFDetectronLMDB)
}

// ImageOnlyBaseline is the unimodal image baseline: logistic regression
// on the mean region feature.
func ImageOnlyBaseline() *flow.Pipeline {
	return trainPipeline("image_only_baseline", RawMemes, MMFDetectronLMDB)
}

// indexSyntheticRegions is one node object shared by the synthetic
// pipelines, so summing them keeps it once.
var indexSyntheticRegions = sync.OnceValue(func() *flow.Node {
	return flow.Node1("index_synthetic_regions", nodes.IndexRegions, SyntheticDetectronLMDB, SyntheticRegionIndex).Tagged("features")
})

// SyntheticTrain trains and evaluates a small ViLBERT on the synthetic
// meme set (the outputs of SyntheticMemes).
func SyntheticTrain() *flow.Pipeline {
	return flow.Sum(
		flow.New(indexSyntheticRegions()),
		trainPipeline("vilbert_synthetic_train", SyntheticMemeFiles, SyntheticRegionIndex),
	)
}

// SyntheticBaselines trains both unimodal baselines on the synthetic set
// (evidence that its labels need both modalities).
func SyntheticBaselines() *flow.Pipeline {
	return flow.Sum(
		flow.New(indexSyntheticRegions()),
		trainPipeline("synthetic_text_only_baseline", SyntheticMemeFiles, SyntheticRegionIndex),
		trainPipeline("synthetic_image_only_baseline", SyntheticMemeFiles, SyntheticRegionIndex),
	)
}

// Default is the embedded demo end to end on a fresh machine: generate
// the synthetic memes and their region features, train the small
// ViLBERT, evaluate it.
func Default() *flow.Pipeline {
	return flow.Sum(SyntheticMemes(), SyntheticTrain())
}

package pipelines

import (
	"mmc/catalog"
	"mmc/features"
	"mmc/flow"
	"mmc/ml/metrics"
	"mmc/ml/models"
	"mmc/nodes"
)

// Datasets and parameters of the validation and inference pipelines
// (namespaced like the training ones: vilbert_validate.model, …).
var (
	inferModel      = catalog.Declare[models.Trained]("model")
	inferParams     = catalog.Param[nodes.EvalParams]("evaluate")
	inferPreds      = catalog.Declare[nodes.Predictions]("predictions")
	inferMetrics    = catalog.Declare[metrics.Binary]("metrics")
	inferReport     = catalog.Declare[nodes.InferenceReport]("inference_report")
	inferSubmission = catalog.Declare[[]nodes.SubmissionRow]("submission")
	localParams     = catalog.Param[nodes.LocalParams]("meme")
	localResult     = catalog.Declare[nodes.LocalPrediction]("prediction")
	// localFeatures is the region store inference_local looks the image
	// up in (vilbert_inference_local.region_features, an entry with
	// load_args optional: true); it may be absent when the checkpoint
	// records its extractor.
	localFeatures = catalog.Declare[features.Maybe]("region_features")
)

// ViLBERTValidate scores a saved checkpoint on a labelled split.
func ViLBERTValidate() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Wire4("predict_split", nodes.PredictFolder).
			Reads(inferParams, inferModel, trainMemes, trainFeatures).Writes(inferPreds).Tagged("evaluate"),
		flow.Node1("evaluate_split", nodes.EvaluatePredictions, inferPreds, inferMetrics).Tagged("evaluate"),
	), "vilbert_validate", flow.Remap{Inputs: flow.Renames(
		flow.Rename(trainMemes, RawMemes), flow.Rename(trainFeatures, MMFDetectronLMDB),
	)})
}

// ViLBERTInference predicts a split, labelled or not, with a checkpoint:
// the submission CSV (id, proba, label) and, when labels exist, metrics.
func ViLBERTInference() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Wire4("predict_split", nodes.PredictFolder).
			Reads(inferParams, inferModel, trainMemes, trainFeatures).Writes(inferPreds).Tagged("inference"),
		flow.Node1("write_submission", nodes.Submission, inferPreds, inferSubmission).Tagged("inference"),
		flow.Node2("summarise_predictions", nodes.InferenceSummary, inferParams, inferPreds, inferReport).Tagged("inference"),
	), "vilbert_inference", flow.Remap{Inputs: flow.Renames(
		flow.Rename(trainMemes, RawMemes), flow.Rename(trainFeatures, MMFDetectronLMDB),
	)})
}

// ViLBERTInferenceLocal classifies one meme given on the command line
// (--params inference_local.image=PATH,inference_local.text="…")
// and writes its probability (prediction.json, see catalog_train.yml).
// The image's features come from vilbert_inference_local.region_features
// (MMF's detectron.lmdb by default) when it holds them,
// else from the extractor the checkpoint was trained with (see
// nodes.PredictLocal); the store may then be absent.
func ViLBERTInferenceLocal() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Wire3("predict_meme", nodes.PredictLocal).
			Reads(localParams, inferModel, localFeatures).Writes(localResult).Tagged("inference"),
	), "vilbert_inference_local", flow.Remap{
		Parameters: map[string]string{"meme": "inference_local"},
	})
}

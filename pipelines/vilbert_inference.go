package pipelines

import (
	"mmc/catalog"
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
)

// ViLBERTValidate scores a saved checkpoint on a labelled split.
func ViLBERTValidate() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Node4("predict_split", nodes.PredictFolder, inferParams, inferModel, trainMemes, trainFeatures, inferPreds).Tagged("evaluate"),
		flow.Node1("evaluate_split", nodes.EvaluatePredictions, inferPreds, inferMetrics).Tagged("evaluate"),
	), "vilbert_validate", flow.Remap{Inputs: map[string]string{
		trainMemes.Name(): RawMemes.Name(), trainFeatures.Name(): MMFDetectronLMDB.Name(),
	}})
}

// ViLBERTInference predicts a split, labelled or not, with a checkpoint:
// the submission CSV (id, proba, label) and, when labels exist, metrics.
func ViLBERTInference() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Node4("predict_split", nodes.PredictFolder, inferParams, inferModel, trainMemes, trainFeatures, inferPreds).Tagged("inference"),
		flow.Node1("write_submission", nodes.Submission, inferPreds, inferSubmission).Tagged("inference"),
		flow.Node2("summarise_predictions", nodes.InferenceSummary, inferParams, inferPreds, inferReport).Tagged("inference"),
	), "vilbert_inference", flow.Remap{Inputs: map[string]string{
		trainMemes.Name(): RawMemes.Name(), trainFeatures.Name(): MMFDetectronLMDB.Name(),
	}})
}

// ViLBERTInferenceLocal classifies one meme given on the command line
// (--params inference_local.image=PATH,inference_local.text="…")
// and prints and writes its probability.
func ViLBERTInferenceLocal() *flow.Pipeline {
	return flow.Namespaced(flow.New(
		flow.Node3("predict_meme", nodes.PredictLocal, localParams, inferModel, trainFeatures, localResult).Tagged("inference"),
	), "vilbert_inference_local", flow.Remap{
		Inputs:     map[string]string{trainFeatures.Name(): MMFDetectronLMDB.Name()},
		Parameters: map[string]string{"meme": "inference_local"},
	})
}

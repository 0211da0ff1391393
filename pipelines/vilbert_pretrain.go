package pipelines

import (
	"mmc/catalog"
	"mmc/flow"
	"mmc/ml/models"
	"mmc/nodes"
)

// Datasets and parameters of the vilbert_pretrain pipeline.
var (
	pretrainParams = catalog.Param[nodes.PretrainParams]("vilbert_pretrain.pretrain")
	// PretrainedViLBERT is the pretraining checkpoint ("model.bert.*",
	// "model.cls.*"): a fine-tuning pipeline's init_weights loads it as
	// pretrained weights.
	PretrainedViLBERT = catalog.Declare[models.Trained]("vilbert_pretrain.model")
	pretrainHistory   = catalog.Declare[nodes.PretrainHistory]("vilbert_pretrain.history")
)

// Pretrain pretrains the small ViLBERT of the synthetic demo with
// ViLBERT's own objectives (masked tokens, masked region features,
// image–text alignment) on the synthetic train split's captions and
// region features, labels unused. It reads the outputs of SyntheticMemes.
func Pretrain() *flow.Pipeline {
	return flow.Sum(
		flow.New(indexSyntheticRegions()),
		flow.New(flow.Wire3x2("pretrain_vilbert", nodes.PretrainViLBERT).
			Reads(pretrainParams, SyntheticMemeFiles, SyntheticRegionIndex).
			Writes(PretrainedViLBERT, pretrainHistory).Tagged("train")),
	)
}

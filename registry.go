package main

import (
	"mmc/flow"
	"mmc/pipelines"
)

// newRegistry registers every pipeline name of the project. Names whose
// nodes are not built yet are registered as planned: they show up in
// `registry list` as not-yet-built and fail at once when run.
func newRegistry() *flow.Registry {
	r := flow.NewRegistry()

	r.Add("synthetic_memes", "generate the synthetic meme set (JSONL splits, PNG images, region features)",
		pipelines.SyntheticMemes)
	r.Add("data_processing", "validate and summarise a Hateful Memes style data set into a JSON report and a chart",
		pipelines.DataProcessing)
	r.Add(flow.DefaultPipeline, "synthetic_memes, then data_processing on the synthetic set",
		func() *flow.Pipeline {
			return flow.Sum(pipelines.SyntheticMemes(), pipelines.SyntheticDataProcessing())
		})

	const vilbertTrain = "needs the ViLBERT training pipeline wiring (pipelines/) over ml/vilbert and the feature stores"
	planned := []struct{ name, desc, missing string }{
		{"vilbert_lmdb_train", "train ViLBERT on MMF detectron.lmdb region features", vilbertTrain},
		{"vilbert_train", "train ViLBERT on features extracted from the images", vilbertTrain + " and an image feature extractor"},
		{"vilbert_dinov2_train", "train ViLBERT on DINOv2 patch features", "needs a DINOv2 backbone in ml/ and the training wiring"},
		{"vilbert_dinov2_multilayer_train", "train ViLBERT on multi-layer DINOv2 features", "needs a DINOv2 backbone in ml/ and the training wiring"},
		{"vilbert_frcnn_train", "train ViLBERT on Faster R-CNN region features", "needs a Faster R-CNN detector in ml/ and the training wiring"},
		{"vilbert_frcnn_resnet152_train", "train ViLBERT on Faster R-CNN ResNet-152 region features", "needs a Faster R-CNN ResNet-152 detector in ml/ and the training wiring"},
		{"vilbert_precomputed_train", "train ViLBERT on precomputed HDF5 region features", vilbertTrain},
		{"vilbert_vg_train", "train ViLBERT on Visual Genome detector features", "needs the Visual Genome detector in ml/ and the training wiring"},
		{"vilbert_vg_rpn_train", "train ViLBERT on Visual Genome RPN proposals", "needs the Visual Genome RPN in ml/ and the training wiring"},
		{"vilbert_resnet_vg_train", "train ViLBERT on ResNet features of Visual Genome boxes", "needs a ResNet backbone in ml/ and the training wiring"},
		{"vilbert_resnet152_grid_train", "train ViLBERT on ResNet-152 grid features", "needs a ResNet-152 backbone in ml/ and the training wiring"},
		{"vilbert_resnet152_roi_train", "train ViLBERT on ResNet-152 RoI-pooled features", "needs a ResNet-152 backbone with RoI pooling in ml/ and the training wiring"},
		{"vilbert_validate", "evaluate a trained ViLBERT checkpoint on a labelled split", "needs the evaluation pipeline wiring (pipelines/)"},
		{"vilbert_inference", "write submission CSVs from a trained ViLBERT checkpoint", "needs the inference pipeline wiring (pipelines/)"},
		{"vilbert_inference_local", "inference on local images, features extracted on the fly", "needs the inference wiring and an image feature extractor"},
		{"vilbert_pretrain", "pre-train ViLBERT (masked multimodal modelling, alignment)", "needs the pre-training objectives and pipeline (a later issue)"},
		{"text_only_baseline", "text-only BERT classifier baseline", "needs the baseline pipeline (a later issue)"},
		{"image_only_baseline", "image-only classifier baseline", "needs the baseline pipeline (a later issue)"},
	}
	for _, p := range planned {
		r.Planned(p.name, p.desc, p.missing)
	}
	return r
}

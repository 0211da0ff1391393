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
	r.Add(flow.DefaultPipeline, "the synthetic demo end to end: generate memes and features, data report, train and evaluate a small ViLBERT",
		func() *flow.Pipeline {
			return flow.Sum(pipelines.Default(), pipelines.SyntheticDataProcessing())
		})
	r.Add("extract_features", "run the configured image feature extractor over raw_memes' images into an HDF5 feature store",
		pipelines.ExtractFeatures)
	r.Add("extract_features_sharded", "extract_features in shards: `run --shard i/n` extracts one partition, a merge node builds the same store",
		pipelines.ExtractFeaturesSharded)
	r.Add("vilbert_synthetic_train", "train and evaluate a small ViLBERT on the synthetic set",
		pipelines.SyntheticTrain)
	r.Add("synthetic_baselines", "text-only and image-only baselines on the synthetic set (they should score near chance)",
		pipelines.SyntheticBaselines)

	r.Add("vilbert_lmdb_train", "train ViLBERT on MMF detectron.lmdb region features", pipelines.ViLBERTLMDBTrain)
	r.Add("vilbert_precomputed_train", "train ViLBERT on precomputed HDF5 region features", pipelines.ViLBERTPrecomputedTrain)
	r.Add("vilbert_validate", "evaluate a trained ViLBERT checkpoint on a labelled split", pipelines.ViLBERTValidate)
	r.Add("vilbert_inference", "write submission CSVs from a trained ViLBERT checkpoint", pipelines.ViLBERTInference)
	r.Add("vilbert_inference_local", "classify one meme given on the command line", pipelines.ViLBERTInferenceLocal)
	r.Add("text_only_baseline", "text-only baseline: Text BERT (12-layer BERT-base, from bert-base-uncased) on the caption alone", pipelines.TextOnlyBaseline)
	r.Add("vilbert_pretrain", "pre-train the synthetic demo's ViLBERT (masked tokens and regions, image-text alignment)", pipelines.Pretrain)
	r.Add("image_only_baseline", "image-only linear baseline on pooled region features", pipelines.ImageOnlyBaseline)

	// Image → features (cached HDF5 store) → ViLBERT (pipelines/vilbert_extract_train.go).
	r.Add("vilbert_train", "the original's ViLBERT Core variant (focal loss) on ResNet-152 grid features extracted from the images", pipelines.ViLBERTTrain)
	r.Add("vilbert_resnet152_grid_train", "train ViLBERT on ResNet-152 grid features (224², 6×6 = 36 regions) extracted from the images", pipelines.ViLBERTResNet152GridTrain)
	r.Add("vilbert_resnet152_roi_train", "train ViLBERT on ResNet-152 RoI-pooled features of 36 multi-scale boxes (600²) extracted from the images", pipelines.ViLBERTResNet152RoITrain)
	r.Add("vilbert_resnet_vg_train", "train ViLBERT on grid features of the Visual Genome Faster R-CNN's ResNet-101 trunk (no detection)", pipelines.ViLBERTResNetVGTrain)
	r.Add("vilbert_dinov2_train", "train ViLBERT on DINOv2 ViT-L/14 patch features (36 interpolated regions, projected in the model)", pipelines.ViLBERTDINOv2Train)
	r.Add("vilbert_dinov2_multilayer_train", "train ViLBERT on DINOv2 blocks 6, 12, 18, 24 concatenated (4096-d, projected in the model)", pipelines.ViLBERTDINOv2MultilayerTrain)

	// Image → Faster R-CNN regions (cached HDF5 store) → ViLBERT (pipelines/vilbert_detect_train.go).
	r.Add("vilbert_frcnn_train", "train ViLBERT on COCO Faster R-CNN ResNet-50-FPN regions (top 36 by confidence ≥ 0.2, 2048-d)", pipelines.ViLBERTFRCNNTrain)
	r.Add("vilbert_frcnn_resnet152_train", "train ViLBERT on Faster R-CNN ResNet-152 regions (800 × 1333 input, top 36, 2048-d)", pipelines.ViLBERTFRCNNResNet152Train)
	r.Add("vilbert_vg_train", "train ViLBERT on the Visual Genome Faster R-CNN ResNet-101's detected boxes (2048-d)", pipelines.ViLBERTVGTrain)
	r.Add("vilbert_vg_rpn_train", "train ViLBERT on the Visual Genome model's RPN proposals (top 36 by VG class score after NMS)", pipelines.ViLBERTVGRPNTrain)

	planned := []struct{ name, desc, missing string }{}
	for _, p := range planned {
		r.Planned(p.name, p.desc, p.missing)
	}
	return r
}

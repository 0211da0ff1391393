package pipelines

import (
	"mmc/flow"
	"mmc/nodes"
)

// ExtractTrain is the extract-then-train template: the pipeline's
// extractor (parameters <name>.extract_features) runs over raw_memes'
// images into the feature store <name>.extracted_features (HDF5,
// recording the extractor's name and parameters), which the training
// template (trainEvaluate) then reads. Extraction is cached by the
// store: a second run with the same extractor parameters finds it and
// extracts nothing, a store made with other parameters is an error, and
// an interrupted extraction resumes where it stopped. The first node
// also checks the training parameters (init_weights) before any work.
//
// Datasets and parameters, all under the pipeline's name: parameters
// <name>.extract_features, <name>.train, <name>.evaluate; datasets
// <name>.extracted_features and the outputs of trainEvaluate.
func ExtractTrain(name string) *flow.Pipeline {
	p := flow.Sum(
		flow.New(
			flow.Wire3("extract_features", nodes.ExtractForTraining).
				Reads(ExtractParams, trainParams, trainMemes).Writes(ExtractedFeatures).Tagged("features"),
			flow.Node2("open_region_features", nodes.OpenRegions, ExtractParams, ExtractedFeatures, trainFeatures).Tagged("features"),
		),
		trainEvaluate(),
	)
	return flow.Namespaced(p, name, flow.Remap{Inputs: flow.Renames(flow.Rename(trainMemes, RawMemes))})
}

// ViLBERTResNet152GridTrain trains ViLBERT on ResNet-152 grid features
// (224², layer4 pooled to 6×6 = 36 regions × 2048).
func ViLBERTResNet152GridTrain() *flow.Pipeline { return ExtractTrain("vilbert_resnet152_grid_train") }

// ViLBERTResNet152RoITrain trains ViLBERT on ResNet-152 RoI-pooled
// features of 36 fixed multi-scale boxes (600², C4 head).
func ViLBERTResNet152RoITrain() *flow.Pipeline { return ExtractTrain("vilbert_resnet152_roi_train") }

// ViLBERTResNetVGTrain trains ViLBERT on grid features of the Visual
// Genome Faster R-CNN's ResNet-101 trunk (no detection).
func ViLBERTResNetVGTrain() *flow.Pipeline { return ExtractTrain("vilbert_resnet_vg_train") }

// ViLBERTDINOv2Train trains ViLBERT on DINOv2 ViT-L/14 patch features
// resampled to 36 regions (1024-d, projected in the model).
func ViLBERTDINOv2Train() *flow.Pipeline { return ExtractTrain("vilbert_dinov2_train") }

// ViLBERTDINOv2MultilayerTrain trains ViLBERT on DINOv2 blocks 6, 12, 18
// and 24 concatenated (4096-d, projected in the model).
func ViLBERTDINOv2MultilayerTrain() *flow.Pipeline {
	return ExtractTrain("vilbert_dinov2_multilayer_train")
}

// ViLBERTTrain is the original project's vilbert_train: the ViLBERT
// Core variant on ResNet-152 grid features with focal loss.
func ViLBERTTrain() *flow.Pipeline { return ExtractTrain("vilbert_train") }

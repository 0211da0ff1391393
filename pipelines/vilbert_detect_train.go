package pipelines

import "mmc/flow"

// The detector pipelines: the extract-then-train template (ExtractTrain)
// with a Faster R-CNN extractor (features/extract/detect.go) writing the
// pipeline's cached HDF5 store; parameters in
// conf/base/parameters_detect.yml, stores in catalog_detect.yml.

// ViLBERTFRCNNTrain trains ViLBERT on COCO Faster R-CNN ResNet-50-FPN
// regions (top 36 by confidence, threshold 0.2, 2048-d).
func ViLBERTFRCNNTrain() *flow.Pipeline { return ExtractTrain("vilbert_frcnn_train") }

// ViLBERTFRCNNResNet152Train trains ViLBERT on regions of the Faster
// R-CNN with a ResNet-152 trunk (800 × 1333 input).
func ViLBERTFRCNNResNet152Train() *flow.Pipeline {
	return ExtractTrain("vilbert_frcnn_resnet152_train")
}

// ViLBERTVGTrain trains ViLBERT on the Visual Genome Faster R-CNN's
// detected boxes (ResNet-101, 1600 classes).
func ViLBERTVGTrain() *flow.Pipeline { return ExtractTrain("vilbert_vg_train") }

// ViLBERTVGRPNTrain trains ViLBERT on the Visual Genome model's RPN
// proposals, top 36 by VG class score after NMS.
func ViLBERTVGRPNTrain() *flow.Pipeline { return ExtractTrain("vilbert_vg_rpn_train") }

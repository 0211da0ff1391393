// Package detect holds the Faster R-CNN detectors the region-feature
// extractors run, forward only, on the ml/vision ResNet trunks and the
// ml/kernels convolution and RoI ops:
//
//   - FasterRCNNFPN: torchvision's fasterrcnn_resnet50_fpn (v1) loaded
//     from its state dict (backbone.body / backbone.fpn / rpn.head /
//     roi_heads.*), any trunk depth (ResNet-50 for the COCO checkpoint,
//     ResNet-152 for the deeper variant). GeneralizedRCNNTransform
//     (800/1333, ImageNet normalisation, padding to 32), FPN with
//     LastLevelMaxPool, RPN (3 anchors per location on P2…P6, sizes 32…512,
//     top 1000 per level, NMS 0.7 per level, 1000 proposals),
//     MultiScaleRoIAlign (7×7, sampling 2, canonical level mapping),
//     TwoMLPHead and FastRCNNPredictor, postprocess_detections (score >
//     0.05, per-class NMS 0.5, 100 detections).
//   - FasterRCNNC4: the caffe-style Faster R-CNN of jwyang's
//     faster-rcnn.pytorch in the layout of faster_rcnn_res101_vg.pth
//     (RCNN_base, RCNN_rpn, RCNN_top, RCNN_cls_score, RCNN_bbox_pred):
//     BGR mean-subtracted input (short side 600, long ≤ 1000), one-level
//     RPN with 12 anchors, pre-NMS 6000, NMS 0.7, post-NMS 300, RoIAlign
//     14×14 before layer4, mean over space (fc7, 2048-d), softmax class
//     scores, class-specific boxes.
//
// Region features are 2048-d for both. The C4 model's are its fc7. The
// FPN model's box head is 1024-d and pools from mixed pyramid levels, and
// the original project does not say how it got 2048-d features from
// it; here each kept box is RoIAligned (7×7, stride 32) on the trunk's C5
// map and averaged: the C4-style "mean of res5 over the box", at the
// width ViLBERT's visual stream expects (RegionFeatures).
//
// Regions (Extract) are the best MaxRegions detections at or above a
// confidence threshold, then the next best below it, then the whole
// image, with Regions.Detected the count above the threshold.
//
// Box arithmetic (BoxCoder, ClipBoxes, NMS, BatchedNMS, anchors) follows
// torchvision in float32, or the Caffe ports' "+1" legacy where the
// model needs it. Fidelity: scripts/fixtures/detect.py runs torchvision
// 0.14's own FasterRCNN classes and a caffe-style reference at reduced
// width; the Go results match its proposals, boxes (1e-3 relative to the
// largest value), scores, labels and order, and the region features.
package detect

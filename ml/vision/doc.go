// Package vision holds the frozen image backbones and the region-feature
// extractors built on them, forward only: no tape, BatchNorms folded into
// the convolutions at load time, activation buffers kept in a workspace
// and reused from image to image.
//
// Backbones load the user's real PyTorch checkpoints and infer their size
// from the keys and shapes:
//
//   - ResNet (LoadResNet): torchvision layout (resnet18 … resnet152, basic
//     or bottleneck blocks, depth from the block counts) or the Caffe-style
//     ResNet-101 trunk of the Visual Genome Faster R-CNN (RCNN_base.* =
//     stem … layer3, RCNN_top.* = layer4, stride on the first 1×1 conv,
//     ceil-mode stem pool).
//   - ViT (LoadViT): DINOv2's vision_transformer.py layout (width, depth,
//     heads = width/64, patch, register tokens, position grid), LayerScale,
//     exact GELU, DINOv2's position-embedding interpolation and the
//     last block's per-head [CLS] attention.
//
// Extractors (Extractor) return one features.Record per image with boxes
// in pixels of the original image; feature stores and ViLBERT normalise
// them by the recorded image size, so the grid extractors' cells come out
// as the normalised cells (x1, y1, x2, y2) of the seed's description:
//
//	resnet152_grid     224² → layer4 (7×7) → adaptive avg pool 6×6 → 36 × 2048
//	resnet_vg          the same on the VG Faster R-CNN's ResNet-101 trunk
//	resnet152_roi      600² → stem…layer3 (38×38, stride 16) → RoIAlign 14×14 of
//	                   36 multi-scale boxes → layer4 → mean → 36 × 2048
//	dinov2             518² → 37×37 patch tokens (final norm) → bilinear 6×6
//	                   (interpolate) or top-36 by [CLS] attention → 36 × 1024
//	dinov2_multilayer  blocks 6, 12, 18, 24 (1-based), each after the final
//	                   norm, interpolated and concatenated (4096) or averaged
//
// Choices the original project left open, all configurable in the
// parameter structs: images are resized to the square input without a
// centre crop (resize: square, since memes carry text near their edges;
// resize: center_crop is torchvision's preset), with Pillow's bilinear
// filter for ResNets and bicubic for DINOv2, then ImageNet-normalised; the
// resnet152_roi boxes are a 5×5 grid of quarter-size squares, a 3×3 grid
// of half-size ones, one centred 0.75 square and the whole image, in that
// order; RoIAlign is torchvision's with aligned=True and adaptive
// sampling.
//
// ops.go has a row LayerNorm, a softmax (vectorised C with cgo) and a
// parallel-for for the ViT; they belong in ml/kernels once its own
// LayerNorm and softmax exist, and should then call them.
package vision

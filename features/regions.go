package features

import "strings"

// DefaultMaxFeatures is MMF's max_features for Hateful Memes.
const DefaultMaxFeatures = 100

// PadRegions lays one image's regions out as ViLBERT's image inputs, the
// way MMF's LMDBFeatureReader and transformer_bbox processor do:
//
//   - feats is [maxFeatures, Dim]: the first min(NumBoxes, maxFeatures)
//     feature rows, then zero rows (MMF pads with np.zeros and truncates
//     to max_loc).
//   - boxes5 is [maxFeatures, 5]: for each real region
//     [x1/W, y1/H, x2/W, y2/H, (y2-y1)*(x2-x1)/(W*H)] from the pixel box
//     and the image size, computed in float32 in that order as numpy does
//     (area first from the pixel coordinates, then the four divisions);
//     padding rows are zero. MMF leaves LMDB boxes unpadded because its
//     stores always hold 100 boxes; zero rows keep the batch rectangular.
//   - mask is [maxFeatures]: 1 for real regions, 0 for padding. MMF's
//     image mask is arange(100) < max_features, where max_features is the
//     row count before padding, so an image with more rows than
//     maxFeatures gets an all-ones mask, as here.
//
// No global-average region is prepended (that is vilbert-multi-task's
// convention, not MMF's). maxFeatures <= 0 means DefaultMaxFeatures. An
// image size of 0 gives Inf/NaN locations, exactly as numpy would.
func PadRegions(rec *Record, maxFeatures int) (feats []float32, boxes5 []float32, mask []float32) {
	if maxFeatures <= 0 {
		maxFeatures = DefaultMaxFeatures
	}
	n := min(rec.NumBoxes, maxFeatures)
	feats = make([]float32, maxFeatures*rec.Dim)
	copy(feats, rec.Features[:n*rec.Dim])
	boxes5 = make([]float32, maxFeatures*5)
	mask = make([]float32, maxFeatures)
	w, h := float32(rec.ImageW), float32(rec.ImageH)
	// numpy divides a float32 array by the Python int W*H as float32.
	wh := float32(rec.ImageW * rec.ImageH)
	for i := 0; i < n; i++ {
		b := rec.Boxes[4*i : 4*i+4]
		o := boxes5[5*i : 5*i+5]
		area := (b[3] - b[1]) * (b[2] - b[0])
		o[4] = area / wh
		o[0] = b[0] / w
		o[1] = b[1] / h
		o[2] = b[2] / w
		o[3] = b[3] / h
		mask[i] = 1
	}
	return feats, boxes5, mask
}

// FeaturePath is MMF's feature path for an image path (the id under which every feature store
// keeps the image): the file name up
// to its first dot.
func FeaturePath(imgPath string) string {
	base := imgPath[strings.LastIndex(imgPath, "/")+1:]
	stem, _, _ := strings.Cut(base, ".")
	return stem
}

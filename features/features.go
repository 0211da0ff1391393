// Package features holds the region-feature record shared by every
// feature store (MMF detectron.lmdb, HDF5) and every producer of features
// (synthetic detector, vision backbones).
package features

import "fmt"

// Record is the region features of one image, in the units MMF stores:
// Features is row-major [NumBoxes, Dim] float32, Boxes is [NumBoxes, 4]
// (x1, y1, x2, y2) in pixels of the original image.
type Record struct {
	ID       string    // image id as used for lookups ("42953")
	Dim      int       // feature width, 2048 for the VG detector
	NumBoxes int       // real number of regions (before any padding)
	Features []float32 // [NumBoxes*Dim]
	Boxes    []float32 // [NumBoxes*4]
	ImageW   int
	ImageH   int
	Objects  []int64   // optional detector class per region
	ClsProb  []float32 // optional [NumBoxes*numClasses]
	// Detected is, for a detector that fills every image to a fixed
	// number of regions, how many of them passed its confidence
	// threshold (the rest are next-best boxes or the whole image); 0
	// for other sources and for stores written before it was kept (0
	// means unknown). The HDF5 store keeps it as /num_detected and MMF's
	// detectron.lmdb as the extra value key "num_detected".
	Detected int
}

// Validate checks that the slices agree with NumBoxes and Dim.
func (r *Record) Validate() error {
	if r.NumBoxes < 0 || r.Dim <= 0 {
		return fmt.Errorf("features %q: num_boxes %d, dim %d", r.ID, r.NumBoxes, r.Dim)
	}
	if len(r.Features) != r.NumBoxes*r.Dim {
		return fmt.Errorf("features %q: %d values, want num_boxes %d × dim %d", r.ID, len(r.Features), r.NumBoxes, r.Dim)
	}
	if len(r.Boxes) != r.NumBoxes*4 {
		return fmt.Errorf("features %q: %d box values, want num_boxes %d × 4", r.ID, len(r.Boxes), r.NumBoxes)
	}
	if r.Detected < 0 || r.Detected > r.NumBoxes {
		return fmt.Errorf("features %q: %d detected regions, outside 0…num_boxes %d", r.ID, r.Detected, r.NumBoxes)
	}
	if r.Objects != nil && len(r.Objects) != r.NumBoxes {
		return fmt.Errorf("features %q: %d objects, want %d", r.ID, len(r.Objects), r.NumBoxes)
	}
	return nil
}

// Reader looks up one image's features by its id.
type Reader interface {
	Get(id string) (*Record, error)
	IDs() []string
	Close() error
}

// Writer appends records to a store; Close commits it (atomically for
// file-backed stores: nothing is visible at the final path before Close).
type Writer interface {
	Put(r *Record) error
	Close() error
}

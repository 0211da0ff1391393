// Package h5store keeps region features (features.Record) in one HDF5
// file that h5py reads directly, through gonum.org/v1/hdf5 (cgo,
// libhdf5-dev).
//
// # Layout
//
// For N images with at most R regions of width D each:
//
//	/ids           [N]        fixed-length string (null-padded, as long as
//	                          the longest id; UTF-8 bytes)
//	/features      [N, R, D]  float32, chunks [1, R, D], gzip (level 4 by default)
//	/boxes         [N, R, 4]  float32 x1, y1, x2, y2 in pixels, chunks [1, R, 4]
//	/num_boxes     [N]        int32, the real number of regions of each image
//	/image_width   [N]        int32
//	/image_height  [N]        int32
//	/objects       [N, R]     int64, optional: detector class per region
//	/cls_prob      [N, R, C]  float32, optional: class probabilities per region
//	/num_detected  [N]        int32, optional: of the num_boxes regions, how
//	                          many passed the detector's confidence threshold
//	                          (features.Record.Detected; the rest fill up to
//	                          a fixed count). Written when any image has one;
//	                          absent (older files, other producers) reads as 0,
//	                          meaning unknown.
//
// Rows past num_boxes are zero padding. The first axis of every dataset
// is extendible, so records stream in without knowing N in advance. Root
// attributes (variable-length strings) describe the file:
//
//	format            "mmc-region-features"
//	format_version    "1"
//	extractor         free text naming the producer ("vg-fasterrcnn-r101")
//	extractor_params  a JSON object of the producer's parameters
//
// In h5py:
//
//	with h5py.File(path) as f:
//	    i = list(f["ids"].asstr()).index("42953")
//	    n = f["num_boxes"][i]
//	    feats, boxes = f["features"][i, :n], f["boxes"][i, :n]
//
// # Reading other producers' files
//
// Open accepts the same layout written with other types: float64 (or
// any float) features and boxes, any integer num_boxes and sizes,
// variable-length or fixed-length string ids, or integer ids. Values are
// converted by the HDF5 library into float32/int32/int64 memory buffers,
// never reinterpreted, so an "f8" file reads correctly. Only /ids and
// /features are required: without /num_boxes every image has R regions,
// without /boxes the boxes are zero, without sizes they are 0.
//
// # Damaged files
//
// libhdf5 parses the file, so what can be checked is checked before and
// after it does: Open reads the superblock itself first (signature,
// version, 8-byte addresses and lengths, an end of file within the
// file), so an empty, foreign or truncated file is an error naming the
// file; and the shapes the metadata claims are bounded (images, id
// length, regions, width, classes) before anything is allocated from
// them. FuzzOpen exercises both; a crash inside libhdf5 itself would be
// documented in docs/reliability.md rather than committed as a failing
// corpus entry.
//
// # Concurrency
//
// The serial HDF5 library is not thread-safe, so every call into it in
// this package holds one package-wide lock: a Store may be shared by
// goroutines, which then read one at a time.
package h5store

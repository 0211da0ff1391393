package lmdbstore

import (
	"fmt"

	"mmc/features"
	"mmc/pickle"
)

// Decode turns one LMDB value (a pickled dict) into a Record with the
// given id. It reads MMF's layout (features, bbox, num_boxes,
// image_width, image_height, optional objects, cls_prob and mmc's
// num_detected) and the vilbert-multi-task layout (features, boxes,
// image_w, image_h). The feature matrix is converted to float32 once; nothing else is copied
// from val beyond the small box, object and class arrays, so val may be
// memory that is only valid during the read transaction.
//
// NumBoxes is the number of feature rows, which is what MMF counts for
// the image mask (its max_features); the stored "num_boxes" is not used
// for that, because MMF's extractor sets it to the count of non-zero
// scores while still storing every row.
func Decode(id string, val []byte) (*features.Record, error) {
	v, err := pickle.Unpickle(val, nil)
	if err != nil {
		return nil, fmt.Errorf("lmdb value %q: %w", id, err)
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("lmdb value %q: want a pickled dict, got %s", id, pickle.TypeName(v))
	}
	rec := &features.Record{ID: id}

	fv, ok := d.GetString("features")
	if !ok {
		return nil, fmt.Errorf("lmdb value %q: no \"features\" entry", id)
	}
	feat, ok := fv.(*pickle.NDArray)
	if !ok {
		return nil, fmt.Errorf("lmdb value %q: \"features\" is %s, want a numpy array", id, pickle.TypeName(fv))
	}
	n, dim, err := featureShape(feat, d)
	if err != nil {
		return nil, fmt.Errorf("lmdb value %q: features: %w", id, err)
	}
	rec.NumBoxes, rec.Dim = n, dim
	// MMF counts the rows; a stored num_boxes beyond them is a corrupt
	// record (fewer is padding, which MMF keeps as regions).
	if nb, err := intEntry(d, "num_boxes"); err == nil && (nb < 0 || nb > n) {
		return nil, fmt.Errorf("lmdb value %q: field num_boxes is %d, but %d feature rows are stored", id, nb, n)
	}

	boxKey := "bbox"
	bv, ok := d.GetString(boxKey)
	if !ok || bv == nil {
		boxKey = "boxes"
		bv, ok = d.GetString(boxKey)
	}
	if !ok || bv == nil {
		return nil, fmt.Errorf("lmdb value %q: no \"bbox\" (MMF) or \"boxes\" (vilbert-multi-task) entry", id)
	}
	boxes, ok := bv.(*pickle.NDArray)
	if !ok {
		return nil, fmt.Errorf("lmdb value %q: %q is %s, want a numpy array", id, boxKey, pickle.TypeName(bv))
	}
	if boxes.Size() != 4*n {
		return nil, fmt.Errorf("lmdb value %q: %q has shape %v, want [%d, 4] to match the feature rows", id, boxKey, boxes.Shape, n)
	}
	if rec.Boxes, err = boxes.Float32(); err != nil {
		return nil, fmt.Errorf("lmdb value %q: %s: %w", id, boxKey, err)
	}

	if rec.ImageW, err = intEntry(d, "image_width", "image_w"); err != nil {
		return nil, fmt.Errorf("lmdb value %q: %w", id, err)
	}
	if rec.ImageH, err = intEntry(d, "image_height", "image_h"); err != nil {
		return nil, fmt.Errorf("lmdb value %q: %w", id, err)
	}

	if ov, ok := d.GetString("objects"); ok && ov != nil {
		oa, ok := ov.(*pickle.NDArray)
		if !ok {
			return nil, fmt.Errorf("lmdb value %q: \"objects\" is %s, want a numpy array", id, pickle.TypeName(ov))
		}
		if oa.Size() != n {
			return nil, fmt.Errorf("lmdb value %q: \"objects\" has %d entries, want %d", id, oa.Size(), n)
		}
		if rec.Objects, err = oa.Int64(); err != nil {
			return nil, fmt.Errorf("lmdb value %q: objects: %w", id, err)
		}
	}
	if cv, ok := d.GetString("cls_prob"); ok && cv != nil {
		ca, ok := cv.(*pickle.NDArray)
		if !ok {
			return nil, fmt.Errorf("lmdb value %q: \"cls_prob\" is %s, want a numpy array", id, pickle.TypeName(cv))
		}
		if (n > 0 && ca.Size()%n != 0) || (n == 0 && ca.Size() != 0) {
			return nil, fmt.Errorf("lmdb value %q: \"cls_prob\" has shape %v, not %d rows", id, ca.Shape, n)
		}
		if rec.ClsProb, err = ca.Float32(); err != nil {
			return nil, fmt.Errorf("lmdb value %q: cls_prob: %w", id, err)
		}
	}

	// mmc's own extra key (MMF ignores it): how many of the rows passed
	// the detector's threshold. Absent in MMF's stores: 0, unknown.
	if _, ok := d.GetString("num_detected"); ok {
		if rec.Detected, err = intEntry(d, "num_detected"); err != nil {
			return nil, fmt.Errorf("lmdb value %q: %w", id, err)
		}
	}

	if rec.Features, err = feat.Float32(); err != nil {
		return nil, fmt.Errorf("lmdb value %q: features: %w", id, err)
	}
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("lmdb value %q: %w", id, err)
	}
	return rec, nil
}

// featureShape returns rows and width of the feature matrix: [N, D], a
// leading batch axis of 1 ([1, N, D]) squeezed away, or a flat [N*D]
// array split by the stored num_boxes.
func featureShape(a *pickle.NDArray, d *pickle.Dict) (int, int, error) {
	s := a.Shape
	switch {
	case len(s) == 2:
		return s[0], s[1], nil
	case len(s) == 3 && s[0] == 1:
		return s[1], s[2], nil
	case len(s) == 1:
		nb, err := intEntry(d, "num_boxes")
		if err != nil || nb <= 0 || s[0]%nb != 0 {
			return 0, 0, fmt.Errorf("flat array of %d values and no num_boxes that divides it", s[0])
		}
		return nb, s[0] / nb, nil
	}
	return 0, 0, fmt.Errorf("shape %v, want [num_boxes, dim]", s)
}

// intEntry reads the first of names that is present as an int (Python
// int, numpy integer scalar, or an integral float).
func intEntry(d *pickle.Dict, names ...string) (int, error) {
	for _, name := range names {
		v, ok := d.GetString(name)
		if !ok {
			continue
		}
		if i, ok := pickle.AsInt(v); ok {
			return int(i), nil
		}
		if f, ok := pickle.AsFloat(v); ok && f == float64(int(f)) {
			return int(f), nil
		}
		if a, ok := v.(*pickle.NDArray); ok && a.Size() == 1 {
			if iv, err := a.Int64(); err == nil {
				return int(iv[0]), nil
			}
		}
		return 0, fmt.Errorf("%q is %s, want an int", name, pickle.TypeName(v))
	}
	if len(names) == 1 {
		return 0, fmt.Errorf("no %q entry", names[0])
	}
	return 0, fmt.Errorf("no %q (MMF) or %q (vilbert-multi-task) entry", names[0], names[1])
}

// Encode pickles rec as MMF's converter does: a dict with numpy arrays
// (written with numpy.core.multiarray._reconstruct, loadable by any
// numpy) plus plain ints and strs. A record's Detected count, when set,
// goes in the extra key "num_detected", which MMF's readers ignore.
func Encode(rec *features.Record) ([]byte, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	d := pickle.NewDict()
	set := func(k string, v any) { d.Set(k, v) }
	set("feature_path", rec.ID)
	set("image_id", rec.ID)
	set("features", pickle.Float32Array(rec.Features, rec.NumBoxes, rec.Dim))
	set("bbox", pickle.Float32Array(rec.Boxes, rec.NumBoxes, 4))
	set("num_boxes", int64(rec.NumBoxes))
	set("image_width", int64(rec.ImageW))
	set("image_height", int64(rec.ImageH))
	if rec.Detected > 0 {
		set("num_detected", int64(rec.Detected))
	}
	if rec.Objects != nil {
		set("objects", pickle.Int64Array(rec.Objects, rec.NumBoxes))
	}
	if rec.ClsProb != nil {
		classes := 0
		if rec.NumBoxes > 0 {
			if len(rec.ClsProb)%rec.NumBoxes != 0 {
				return nil, fmt.Errorf("features %q: %d cls_prob values are not %d rows", rec.ID, len(rec.ClsProb), rec.NumBoxes)
			}
			classes = len(rec.ClsProb) / rec.NumBoxes
		} else if len(rec.ClsProb) != 0 {
			return nil, fmt.Errorf("features %q: cls_prob without boxes", rec.ID)
		}
		set("cls_prob", pickle.Float32Array(rec.ClsProb, rec.NumBoxes, classes))
	}
	b, err := pickle.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("features %q: %w", rec.ID, err)
	}
	return b, nil
}

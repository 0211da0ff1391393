package features

// Maybe is a region-feature store that may be absent: the catalog's
// feature-store formats load a missing store as a Maybe with a nil
// Reader and Missing saying what was looked for, instead of failing the
// run (vilbert_inference_local can extract a new image's features itself).
type Maybe struct {
	Reader  Reader // nil when the store does not exist
	Missing string // why Reader is nil
}

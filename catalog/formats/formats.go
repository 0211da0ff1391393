// Package formats holds mmc's application catalog formats (model
// checkpoints, meme folders, synthetic scenes) and All, the one list of
// every format the binary's catalogs know.
//
// The stored types live with their code (models.Trained in ml/models,
// memes.Folder in memes, synth.Set in synth); those packages do not
// import the catalog (ml never imports the framework), so their I/O
// adapters live here, as catalog/featureds does for region features.
// Adding a dataset format is one new file here (a func returning a
// catalog.Format) plus one line in All.
package formats

import (
	"mmc/catalog"
	"mmc/catalog/featureds"
)

// All returns every catalog format of mmc: the generic ones, the
// region-feature stores and the application's own.
func All() []catalog.Format {
	fs := append(catalog.Builtin(), featureds.Formats()...)
	fs = append(fs,
		MemeFolder(),
		ModelCheckpoint(),
		SyntheticScenes(),
	)
	return append(fs, Partitioned(fs))
}

// Package catalog is the DataCatalog: it owns all I/O of a pipeline run.
//
// A dataset is named once in Go with the type its data has, and the
// name's entry in conf/*/catalog*.yml says in which format and where it
// is stored. The compiler checks that a node's function fits the handles
// it is wired to; before the run, validation checks that each entry's
// format can produce the handle's type.
//
//	// (1) typed dataset handles
//	var TrainMemes = catalog.Declare[[]memes.Meme]("train_memes")
//	var Report = catalog.Declare[Summary]("data_report")
//	// a parameter subtree, decoded strictly into a struct (see flow)
//	var SynthParams = catalog.Param[SyntheticParams]("synthetic")
//
// with, in conf/base/catalog.yml,
//
//	train_memes:
//	  type: jsonl
//	  filepath: data/01_raw/hateful_memes/train.jsonl
//	  metadata: {layer: raw}
//	data_report:
//	  type: json
//	  filepath: data/08_reporting/data_report.json
//	  save_args: {indent: 2}
//	"{split}_tokens":            # a dataset factory
//	  type: json
//	  filepath: data/04_feature/{split}_tokens.json
//
// A name with no entry and no matching factory is an in-memory dataset.
// Entries accept type, filepath, load_args, save_args, versioned and
// metadata (metadata.layer, or metadata.kedro-viz.layer, is the viz
// layer); any other key is handed to the format in Spec.Extra.
//
// # Adding a format from another package
//
// A format is a value, not a side effect: a function returns it, and the
// application lists it once in the formats it passes to New
// (Options.Formats; mmc's list is catalog/formats.All). It is then usable
// as "type: <name>" in any catalog file; catalog/featureds is a complete
// example:
//
//	func MyFeatures() catalog.Format {
//		return catalog.Format{
//			Name: "my_features",
//			Doc:  "region features in my store",
//			// Accepts states the Go types a handle may have.
//			Accepts: catalog.AcceptTypes(reflect.TypeFor[features.Reader]()),
//			New: func(s catalog.Spec) (catalog.Dataset, error) {
//				var args struct {
//					MaxReaders int `yaml:"max_readers"`
//				}
//				if err := s.DecodeLoadArgs(&args); err != nil { // strict, with file:line
//					return nil, err
//				}
//				return &myDataset{path: s.Filepath, maxReaders: args.MaxReaders}, nil
//			},
//		}
//	}
//
// The dataset implements Dataset: Load(ctx, t) returns a value assignable
// to t (one of the types Accepts allowed), Save(ctx, v) writes it
// atomically (see package atomicfile: a failed or cancelled run never
// leaves a half-written file), Exists reports whether Load would find
// data, and Describe is a one-line summary for logs and listings.
// Spec.Filepath is already resolved: for a versioned entry it is
// <filepath>/<version>/<basename>, so formats never deal with versions.
package catalog

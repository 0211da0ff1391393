// Package flow is the runner core: nodes made from plain typed Go
// functions, pipelines (composition, namespaces, filters, validation,
// topological order), the pipeline registry, and the sequential and
// parallel runners with hooks, resume hints and --only-missing-outputs.
//
// A node function takes a context first, then one value per input, and
// returns one value per output and an error last. Node constructors are
// generic over the input and output types, so the compiler checks that
// the function fits the dataset handles it is wired to:
//
//	var (
//		TrainMemes  = catalog.Declare[[]memes.Meme]("train_memes")
//		Images      = catalog.Declare[map[string]image.Image]("meme_images")
//		Report      = catalog.Declare[Report]("data_report")
//		Chart       = catalog.Declare[image.Image]("data_report_chart")
//		SynthParams = catalog.Param[SyntheticParams]("synthetic") // params:synthetic
//	)
//
//	// A parameter subtree decodes strictly into a struct before any
//	// node runs: an unknown key in parameters.yml is an error with
//	// file:line and the nearest valid key.
//	type SyntheticParams struct {
//		NumMemes int   `yaml:"num_memes"`
//		Seed     int64 `yaml:"seed"`
//	}
//
//	func Generate(ctx context.Context, p SyntheticParams) ([]memes.Meme, error)
//	func Summarise(ctx context.Context, m []memes.Meme, imgs map[string]image.Image) (Report, image.Image, error)
//
//	func DataProcessing() *flow.Pipeline {
//		return flow.New(
//			flow.Node1("generate_memes", Generate, SynthParams, TrainMemes),
//			flow.Node2x2("summarise", Summarise, TrainMemes, Images, Report, Chart).
//				Tagged("report"),
//		)
//	}
//
// Node1 is one input and one output, Node2 two inputs, Node2x2 two
// inputs and two outputs, and so on; Node0 has no inputs and Sink1 no
// outputs (all generated, see typed.go). Where the positional list is
// long, the named form says which handles are read and which written,
// with the same compile-time checks:
//
//	flow.Wire4("predict_test", nodes.PredictFolder).
//		Reads(testParams, bestModel, memes, feats).Writes(testPreds)
//
// Func wires any function by reflection and checks it when the pipeline
// is built, for the rare case the typed forms do not cover.
//
// Namespaced moves a pipeline into a namespace, renaming its datasets
// and parameters except those remapped; Rename keeps a remap typed:
//
//	flow.Namespaced(trainEvaluate(), "vilbert_lmdb_train", flow.Remap{
//		Inputs: flow.Renames(flow.Rename(memes, RawMemes)),
//	})
//
// Sum is Kedro's a + b: equal nodes (same name, function, inputs and
// outputs) are one node, so a template built twice sums cleanly, while
// two different nodes under one name are an error showing both.
//
// flow.New validates as it builds (duplicate node names, an output
// produced twice, cycles, a node reading its own output, a dataset name
// used with two Go types), and Pipeline.Err reports the problems with
// "did you mean" hints. Check then validates against a catalog (free
// inputs present, formats able to produce each handle's type, parameter
// subtrees decoding strictly) and Run executes:
//
//	p, err := registry.Pipeline("__default__")       // a *flow.Registry
//	p, err = p.Filter(flow.Filter{Tags: []string{"report"}})
//	err = flow.Check(p, cat)                          // cat is a *catalog.Catalog
//	res, err := flow.Run(ctx, p, cat, flow.RunOptions{MaxWorkers: 2, Hooks: []flow.Hooks{myHooks}})
package flow

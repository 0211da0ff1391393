package pipelines

import (
	"image"

	"mmc/catalog"
	"mmc/flow"
	"mmc/memes"
	"mmc/nodes"
)

// Datasets and parameters of the data_processing pipeline.
var (
	// RawMemes is the Hateful Memes style folder to check (the real data
	// set's layout by default).
	RawMemes             = catalog.Declare[memes.Folder]("raw_memes")
	DataProcessingParams = catalog.Param[nodes.DataProcessingParams]("data_processing")
	DataReport           = catalog.Declare[nodes.DataReport]("data_report")
	DataReportChart      = catalog.Declare[image.Image]("data_report_chart")
)

// DataProcessing validates and summarises the data set in raw_memes:
// counts, label balance, text lengths, missing or unreadable images,
// duplicate ids, as a JSON report and a bar chart.
func DataProcessing() *flow.Pipeline {
	return flow.New(
		flow.Node2("summarise_memes", nodes.SummariseMemes, RawMemes, DataProcessingParams, DataReport).Tagged("report"),
		flow.Node1("draw_data_report", nodes.DataReportChart, DataReport, DataReportChart).Tagged("report"),
	)
}

// SyntheticDataProcessing is DataProcessing run on the synthetic set
// (raw_memes remapped to synthetic_memes), so that summed with
// SyntheticMemes it runs after the generator: the embedded default.
func SyntheticDataProcessing() *flow.Pipeline {
	return flow.Namespaced(DataProcessing(), "", flow.Remap{
		Inputs: flow.Renames(flow.Rename(RawMemes, SyntheticMemeFiles)),
	})
}

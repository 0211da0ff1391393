// Package plot draws small, deterministic PNG charts with no dependency
// beyond the standard library and golang.org/x/image: LineChart for
// training curves (loss, AUROC per epoch), ROCCurve for a classifier's ROC
// with the chance diagonal, BarChart for labelled, optionally grouped bars
// (counts per split and label in a data report), and Histogram for how
// values spread (caption lengths).
//
// Charts come back as *image.RGBA so callers save them through whatever
// writes their files (the catalog's PNG dataset); EncodePNG writes one.
// Text uses the Go fonts; lines are anti-aliased; the same input always
// gives the same pixels. Bad input (no data, NaN or infinite values,
// mismatched lengths) is an error that names the series and index.
package plot

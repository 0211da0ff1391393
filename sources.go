package main

import "embed"

// nodeSources are the Go files that define the nodes and pipelines,
// embedded at build time so `viz` shows a node's code without the source
// tree at hand.
//
//go:embed nodes/*.go pipelines/*.go
var nodeSources embed.FS

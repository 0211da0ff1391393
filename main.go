// Command mmc trains and serves multimodal (image + text) meme
// classifiers as Kedro-style pipelines. See README.md, or run
// `go run . --help`.
package main

import (
	"context"
	"os"

	"mmc/catalog/formats"
	"mmc/cli"
)

func main() {
	app := &cli.App{Registry: newRegistry(), Formats: formats.All(), Sources: nodeSources, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(app.Main(context.Background(), os.Args[1:]))
}

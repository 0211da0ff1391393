// Command trivial is the start-up benchmark's subject: the real command
// line (cli.App) with a one-node pipeline, so a run measures process
// start, flag parsing, config loading, catalog, validation and runner.
package main

import (
	"context"
	"os"

	"mmc/catalog"
	"mmc/cli"
	"mmc/flow"
)

type params struct {
	Greeting string `yaml:"greeting"`
}

func greet(_ context.Context, p params) (string, error) { return p.Greeting, nil }

func main() {
	r := flow.NewRegistry()
	r.Add(flow.DefaultPipeline, "one node", func() *flow.Pipeline {
		return flow.New(flow.Node1("greet", greet, catalog.Param[params]("trivial"), catalog.Declare[string]("greeting")))
	})
	app := &cli.App{Registry: r, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(app.Main(context.Background(), os.Args[1:]))
}

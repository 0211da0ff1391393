package flow_test

import (
	"context"
	"fmt"
	"strings"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
)

type CleanParams struct {
	Lower bool `yaml:"lower"`
}

var (
	Captions = catalog.Declare[[]string]("captions")
	Clean    = catalog.Declare[[]string]("clean_captions")
	Count    = catalog.Declare[int]("caption_count")
	Params   = catalog.Param[CleanParams]("clean")
)

func clean(_ context.Context, in []string, p CleanParams) ([]string, error) {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.TrimSpace(s)
		if p.Lower {
			out[i] = strings.ToLower(out[i])
		}
	}
	return out, nil
}

func count(_ context.Context, in []string) (int, error) { return len(in), nil }

func Example() {
	p := flow.New(
		flow.Node2("clean", clean, Captions, Params, Clean),
		flow.Node1("count", count, Clean, Count).Tagged("report"),
	)
	params, _ := config.ParseFile("parameters.yml", []byte("clean:\n  lower: true\n"))
	cat, _ := catalog.New(nil, params, catalog.Options{})
	ctx := context.Background()
	// captions has no catalog entry here, so it is an in-memory input.
	catalog.Save(ctx, cat, Captions, []string{"  Look At The RED circle ", "i love the blue square"})
	if err := p.Err(); err != nil {
		fmt.Println(err)
		return
	}
	res, err := flow.Run(ctx, p, cat, flow.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Intermediate in-memory data (clean_captions) is released once its
	// last reader is done; terminal outputs stay.
	n, _ := catalog.Load(ctx, cat, Count)
	_, err = catalog.Load(ctx, cat, Clean)
	fmt.Println(res.Ran, n, err != nil)
	// Output: [clean count] 2 true
}

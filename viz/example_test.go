package viz_test

import (
	"os"

	"mmc/viz"
)

func Example() {
	g := viz.Graph{
		Name: "__default__",
		Nodes: []viz.Node{{
			Name:    "tokenize",
			Tags:    []string{"text"},
			Func:    "mmc/nodes.Tokenize",
			Source:  "nodes/text.go:12",
			Inputs:  []string{"train_memes"},
			Outputs: []string{"train_tokens"},
			Params:  []string{"tokenizer"},
		}},
		Datasets: []viz.Dataset{
			{Name: "train_memes", Type: "jsonl", Filepath: "data/01_raw/train.jsonl", Layer: "raw"},
		},
		Params: []viz.Param{{Key: "tokenizer", Value: map[string]any{"max_len": 64}}},
	}
	if err := viz.RenderMermaid(os.Stdout, g); err != nil {
		panic(err)
	}
	// Output:
	// %%{init: {"layout": "elk"}}%%
	// flowchart LR
	//   p_122a0f6c{{"params:tokenizer"}}
	//   subgraph layer0["raw"]
	//     d_e98a1ab9[("train_memes")]
	//   end
	//   t_c7c2c2f2["tokenize"]
	//   d_ce6827f6(["train_tokens"])
	//   p_122a0f6c --> t_c7c2c2f2
	//   d_e98a1ab9 --> t_c7c2c2f2
	//   t_c7c2c2f2 --> d_ce6827f6
	//   classDef task fill:#dbe8f7,stroke:#3b6ea8
	//   classDef data fill:#eef5e9,stroke:#4f8a3c
	//   classDef memory fill:#ffffff,stroke:#4f8a3c,stroke-dasharray:4 3
	//   classDef parameters fill:#fdf6e3,stroke:#b58900,stroke-dasharray:3 3
	//   class t_c7c2c2f2 task
	//   class d_e98a1ab9 data
	//   class d_ce6827f6 memory
	//   class p_122a0f6c parameters
}

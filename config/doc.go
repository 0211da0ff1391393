// Package config loads the project's configuration the way Kedro's
// OmegaConfigLoader does: every file matching parameters*, catalog* or
// globals* (.yml, .yaml, .json, searched recursively) in conf/base, then
// the run environment (conf/local, or --env NAME) on top.
//
// conf/base must exist (a missing run environment is fine only when it is
// the default "local"). Files and folders whose name starts with "." are
// skipped (.ipynb_checkpoints, editor backups).
//
// Merge rules:
//   - Within one environment a key set by two files is an error; the
//     message names every clashing key with both files and lines (for
//     parameters the check goes down to leaves, so two files may each
//     add keys under one top-level mapping).
//   - "${...}" is resolved within each environment before the merge, so a
//     base value "${x}" sees the base's x. "${globals:key, default}" reads
//     the merged globals; "${runtime_params:key, default}" reads --params;
//     "${a.b}" refers to another key of the same kind and environment.
//   - Runtime parameters (--params a.b=1,c=x, typed values, dotted keys)
//     are set over each environment's parameters before resolving, so
//     "${a.b}" gives the --params value.
//   - Top-level keys starting with "_" may hold YAML anchors and templates
//     ("type: ${_pandas.type}", from any file of the same kind and
//     environment); they never clash and are dropped after resolving.
//   - Across environments the run environment replaces a whole top-level
//     key of the base environment (Kedro's "destructive" strategy).
//
// Every key keeps the file, line and column that set it, so strict
// decoding into a Go struct can say where an unknown or mistyped key is:
//
//	type Synthetic struct {
//		NumMemes int     `yaml:"num_memes"`
//		Seed     int64   `yaml:"seed"`
//		Ratio    float64 `yaml:"confounder_ratio"`
//	}
//	cfg, err := config.Load(config.Options{ConfSource: "conf", Env: "local"})
//	var s Synthetic
//	err = config.Decode(cfg.Parameters, "synthetic", &s)
//	// conf/base/parameters.yml:4:3: unknown parameter "synthetic.num_meme" (did you mean "num_memes"?)
package config

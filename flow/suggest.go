package flow

import "mmc/config"

func nearestName(name string, candidates []string) string { return config.Nearest(name, candidates) }

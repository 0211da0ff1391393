# The two commands of the README. Both bootstrap first (installs missing
# system packages; a no-op when everything is there).
.PHONY: run test bootstrap bench

run: bootstrap
	go run . run

test: bootstrap
	go vet ./...
	go test ./...

bootstrap:
	bash scripts/bootstrap.sh

# Framework benchmarks (short; the numbers are ratios, not absolutes).
bench:
	go test -run '^$$' -bench . -benchtime 3x ./flow/ ./bench/framework/

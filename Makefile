# Every target a user or CI needs; `make help` lists them.
.PHONY: help build bench bench-quick bench-scale bench-serve bench-syscalls bench-python bench-by-hand compare report test lint
.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

build: ## Build every binary in release (target/release/<model>, or under CARGO_TARGET_DIR)
	cargo build --release --workspace

bench: ## Full benchmark in interleaved rounds, the seed's settings: results/*.csv, REPORT.md (MODELS, N, RUNS... changed: its run folder only, unless PROMOTE=1)
	scripts/bench.sh full

bench-quick: ## Smoke benchmark in seconds: results/runs/<time>-quick-<pid>/
	scripts/bench.sh quick

bench-python: ## The same cells over the six Python models (venv in target/ once): results/python-*.csv
	scripts/bench.sh full python

compare: ## Two models with hyperfine, by hand: make compare A=threads B=tokio-async WORKLOAD=io (cpu, io or sleep)
	scripts/compare.sh "$(A)" "$(B)" "$(or $(WORKLOAD),io)"

bench-scale: ## Scale sweep of time and memory per task (under 15 min): results/scale*.csv
	scripts/bench-scale.sh full

bench-serve: ## Every model as a server under open-loop load (oha 1.16 into target/tools once; under 25 min): results/serve*.csv
	scripts/bench-serve.sh full

bench-syscalls: ## System calls per download and per served request, every model, counted by the kernel (needs root or CAP_PERFMON; a few minutes): results/syscalls.csv
	scripts/bench-syscalls.sh full

bench-by-hand: ## The runs no sweep makes (a switch pinned to one CPU against unpinned): results/by-hand.csv
	scripts/by-hand.sh

report: ## Regenerate results/REPORT.md, results/charts/*.svg and the README's findings from results/*.csv
	cargo run --release --quiet -p benchkit -- report results --readme README.md

test: ## Build, then run every unit and end-to-end test
	cargo build --release --workspace
	@# hyperfine first (target/tools, once): a bench an end-to-end test starts must not
	@# spend its test's time limit compiling it (a fresh clone's tests timed out that way)
	bash -c 'set -euo pipefail; source scripts/lib.sh; find_target_dir; ensure_hyperfine'
	cargo test --release --workspace

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all --check
	cargo clippy --release --workspace --all-targets -- -D warnings

# promptml — see README.md. Every target works on a fresh machine with Go,
# Java 17 and the Firestore/Pub/Sub emulators installed (see README).

GO      ?= go
BIN     := bin/promptml
DATA    ?= samples/translation-fr.csv
CONFIG  ?= samples/translation-fr.yaml
PROJECT ?=
REGION  ?= us-central1

# The local and test targets point Google's default-credential lookup at a
# dead metadata server, so nothing they run can reach Google. Only they:
# `make deploy` keeps the real one (a VM's or Cloud Shell's credentials).
LOCAL_TARGETS := build run test test-short vet bench fuzz
$(LOCAL_TARGETS): export GCE_METADATA_HOST := 127.0.0.1:1

.PHONY: build run test test-short vet bench fuzz package deploy clean

build:
	$(GO) build -o $(BIN) ./cmd/promptml

## run: train the translation sample on the local cloud with the simulator.
run: build
	$(BIN) local --data $(DATA) --config $(CONFIG)

## test: vet, then all the tests (unit, emulator integration, end to end,
## the dashboard in a browser), with one pair of emulators shared by all
## packages. cmd/testsummary prints go test's plain output, then what was
## skipped and why; with CI=true a skipped browser or emulator test fails.
test: build vet
	$(GO) build -o bin/testsummary ./cmd/testsummary
	$(BIN) emulators -- bin/testsummary -- $(GO) test -json -count=1 -timeout 15m ./...

## test-short: unit tests only (no emulators).
test-short:
	$(GO) test -short ./...

## vet: go vet, staticcheck (pinned by go.mod's tool directive) and gofmt.
vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## bench: every benchmark (not part of make test): pipeline efficiency
## (bench/efficiency), promptml against promptfoo on sim-server, intake of
## 1,000,000 rows, call economy, Go microbenchmarks; writes docs/benchmarks.md
## (medians of BENCH_RUNS runs). Needs npm for the pinned promptfoo.
BENCH_RUNS ?= 3
# 1,000,000 rows at the default batch_size (20) are 50,000 shard objects: over
# ten minutes against the in-memory fake Cloud Storage (docs/benchmarks.md).
# Set to 20 to measure it anyway.
BENCH_INTAKE_DEFAULT_BATCH ?= 0
bench: build
	test -x bench/promptfoo/node_modules/.bin/promptfoo || npm ci --prefix bench/promptfoo --no-audit --no-fund
	mkdir -p bench/out
	rm -f bench/out/efficiency.md
	if [ -d bench/efficiency ]; then \
		$(GO) run ./bench/efficiency -runs $(BENCH_RUNS) -out bench/out/efficiency.md || echo "bench: the efficiency benchmark failed; docs/benchmarks.md says so"; \
	else echo "bench: bench/efficiency is not in this tree; docs/benchmarks.md says so"; fi
	$(GO) run ./bench/report -runs $(BENCH_RUNS) -intake-default-batch-size $(BENCH_INTAKE_DEFAULT_BATCH) -out docs/benchmarks.md -efficiency bench/out/efficiency.md

## fuzz: run each fuzz target for FUZZTIME, one at a time (their seed
## corpora also run as plain tests in make test). A failure stops the
## loop and leaves the crasher under the package's testdata/fuzz/.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	shared/dataset:FuzzIngest \
	shared/config:FuzzLoad \
	shared/optimize:FuzzBuild \
	shared/optimize:FuzzDataBlock \
	shared/queue:FuzzDecode \
	functions/ondatasetupload:FuzzDecode \
	shared/blob:FuzzObjectNames

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ./$$pkg ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg; \
	done

package:
	bash scripts/package.sh

deploy:
	PROJECT=$(PROJECT) REGION=$(REGION) bash scripts/deploy.sh

clean:
	rm -rf bin dist

# vulnpilot — build, test, benchmark, lint.
# Every tool the targets need is installed by the targets themselves into
# .cache/ (gitignored), so a fresh machine needs only Go (see README).

GO            ?= go
BIN           := bin/vulnpilot
CACHE         := $(CURDIR)/.cache
TOOLS         := $(CACHE)/bin
STATICCHECK   := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X main.version=$(VERSION)
PKGS          := ./...

.PHONY: all build demo test test-unit test-e2e eval bench bench-fetch lint fmt vet staticcheck model model-report clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vulnpilot

## demo: the main job on the embedded default — a simulated Falcon tenant, end to end.
demo: build
	./$(BIN) run --demo

## test: everything CI checks (lint, unit + integration tests, end-to-end through the binary, evals).
test: lint build
	$(GO) test -count=1 -timeout 15m $(PKGS)
	$(MAKE) eval

## eval: decision quality on the labelled scenarios vs the baselines; fails when evals/thresholds.yaml is missed.
eval: build
	./$(BIN) eval

## bench: micro-benchmarks of the hot paths, then the 1M-finding fetch+score benchmark.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./internal/... 
	$(MAKE) bench-fetch

## bench-fetch: fetch + score 1,000,000 findings from the simulator over HTTPS (see README).
bench-fetch: build
	./$(BIN) bench fetch --findings $${BENCH_FINDINGS:-1000000}

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(PKGS)

## model: retrain the exploitation-likelihood model from the bundled real data (reproducible).
model: build
	./$(BIN) model train --out internal/exploitmodel/model_v1.json

## model-report: the model's time-split evaluation table (EPSS-style effort/coverage/efficiency).
model-report: build
	./$(BIN) eval --real-data

clean:
	rm -rf bin .cache/bin

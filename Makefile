# Keycard — every target loops over the modules listed in go.work.
SHELL   := /bin/bash
MODULES := $(shell sed -n 's|^[[:space:]]*\./\([^[:space:]]*\)$$|\1|p' go.work)
SERVICES := $(notdir $(patsubst %/,%,$(wildcard services/*/)))
FUZZTIME ?= 2000x

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run Keycard: one binary, embedded JetStream under ./data, example policy in dry-run (dev key in data/dev-webhook-key)
	@BAMBOOHR_WEBHOOK_KEY="$${BAMBOOHR_WEBHOOK_KEY:-$$(scripts/dev-key)}" \
	 KEYCARD_LOG_FORMAT="$${KEYCARD_LOG_FORMAT:-console}" \
	 KEYCARD_CONFIG="$${KEYCARD_CONFIG:-deployments/keycard.example.yaml}" \
	 go run ./services/keycard

.PHONY: demo
demo: ## run Keycard with a built-in fake BambooHR of 5 sample people, to watch the whole flow
	@BAMBOOHR_WEBHOOK_KEY="$${BAMBOOHR_WEBHOOK_KEY:-$$(scripts/dev-key)}" \
	 KEYCARD_LOG_FORMAT="$${KEYCARD_LOG_FORMAT:-console}" \
	 KEYCARD_CONFIG="$${KEYCARD_CONFIG:-deployments/keycard.example.yaml}" \
	 KEYCARD_DEMO=true KEYCARD_DATA_DIR="$${KEYCARD_DATA_DIR:-data/demo}" \
	 go run ./services/keycard

.PHONY: test
test: ## every module's tests with -race, then each fuzz target for FUZZTIME (default 2000 inputs)
	@FUZZTIME=$(FUZZTIME) scripts/test.sh $(MODULES)

.PHONY: fuzz
fuzz: ## the fuzz targets only, longer: make fuzz FUZZTIME=5m
	@FUZZTIME=$(FUZZTIME) FUZZ_ONLY=1 scripts/test.sh $(MODULES)

.PHONY: bench
.PHONY: soak
soak: ## the cluster fault test with a longer flood: make soak SOAK_PEOPLE=2000 (default 1000)
	set -o pipefail; cd services && KEYCARD_SOAK_PEOPLE=$(or $(SOAK_PEOPLE),1000) go test -race -count=1 -timeout 60m -run 'TestClusterFaultsLoseAndDoubleNothing' -v ./keycard/ 2>&1 | grep -v '^{'

bench: ## throughput, latency and memory figures against a raw nats bench baseline
	@scripts/bench.sh

.PHONY: lint
lint: ## gofmt and go vet on every module
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done
	@echo "lint: ok"

.PHONY: build
build: ## build every service binary into bin/
	@mkdir -p bin
	@for s in $(SERVICES); do echo "build bin/$$s"; go build -trimpath -o bin/$$s ./services/$$s || exit 1; done
	@for m in $(MODULES); do (cd $$m && go build ./...) || exit 1; done

.PHONY: clean
clean: ## remove bin/ (data/ is kept: it holds the JetStream store)
	rm -rf bin

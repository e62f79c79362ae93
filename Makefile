# AI Router — every workflow starts here.
#   make run    build, start PostgreSQL + Temporal + the mock upstream if needed, migrate, seed a demo, serve
#   make test   the same stack, then every check and test
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO         ?= go
BIN        := $(CURDIR)/bin
DEV        := $(CURDIR)/.dev
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)

# Pinned tools, built from source into ./bin with `go install`.
SQLC_VERSION     := v1.31.1
MIGRATE_VERSION  := v4.20.1
TEMPORAL_VERSION := v1.5.1
OAPI_CODEGEN_VERSION := v2.8.2
STATICCHECK_VERSION  := v0.8.2

# The Portkey gateway, the optional peer row of make bench (needs node and
# npm; installed into .dev/portkey by make portkey). @hono/node-server is held
# at 1.13.8 with an npm override: from 1.14 its Response reuses the upstream
# response's immutable headers and every stream through the gateway fails
# with "TypeError: immutable" (Portkey-AI/gateway#1389).
PORTKEY_VERSION          := 1.15.2
PORTKEY_HONO_NODE_SERVER := 1.13.8
PORTKEY_JS    := $(DEV)/portkey/node_modules/@portkey-ai/gateway/build/start-server.js
PORTKEY_STAMP := $(DEV)/portkey/.installed-$(PORTKEY_VERSION)-$(PORTKEY_HONO_NODE_SERVER)

MOCK_ADDR  ?= 127.0.0.1:9099
PORT       ?= 8080

# Settings of the local stack (.dev/env is written by scripts/dev-stack.sh).
# Values already in the environment win.
define with_env
set -a; [ -f $(DEV)/env ] && . $(DEV)/env; set +a; \
export AIROUTER_MASTER_KEY="$${AIROUTER_MASTER_KEY:-$$(cat $(DEV)/master.key)}"; \
export ADMIN_TOKEN="$${ADMIN_TOKEN:-$$(cat $(DEV)/admin.token)}";
endef

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

## ---- tools ----
$(BIN)/sqlc:
	GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
$(BIN)/migrate:
	GOBIN=$(BIN) $(GO) install -tags pgx5 github.com/golang-migrate/migrate/v4/cmd/migrate@$(MIGRATE_VERSION)
$(BIN)/oapi-codegen:
	GOBIN=$(BIN) $(GO) install github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$(OAPI_CODEGEN_VERSION)
$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(BIN)/temporal:
	@echo "building the Temporal CLI $(TEMPORAL_VERSION) (several minutes the first time)"
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VERSION)

.PHONY: tools
tools: $(BIN)/sqlc $(BIN)/migrate $(BIN)/oapi-codegen $(BIN)/staticcheck $(BIN)/temporal ## build the pinned sqlc, migrate, oapi-codegen, staticcheck and temporal CLIs into ./bin

## ---- build ----
.PHONY: build
build: ## build bin/airouter and bin/mockllm
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/airouter ./cmd/airouter
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/mockllm ./cmd/mockllm

.PHONY: generate
generate: $(BIN)/sqlc $(BIN)/oapi-codegen ## regenerate sqlc code and the OpenAPI test client
	$(BIN)/sqlc generate
	$(GO) run ./cmd/airouter openapi --3.0 > $(BIN)/openapi-3.0.json
	$(BIN)/oapi-codegen -generate types,client -package apiclient $(BIN)/openapi-3.0.json > cmd/airouter/internal/apiclient/client.gen.go

.PHONY: check-generated
check-generated: $(BIN)/sqlc ## fail when committed generated code is stale
	@$(BIN)/sqlc diff || { echo "sqlc output is stale: run 'make generate' and commit"; exit 1; }

.PHONY: migration
migration: $(BIN)/migrate ## create a new migration: make migration NAME=add_things
	$(BIN)/migrate create -ext sql -dir sql/migrations -seq -digits 6 $(NAME)

## ---- local stack ----
.PHONY: stack
stack: ## start PostgreSQL and Temporal unless DATABASE_URL / TEMPORAL_ADDRESS are set
	@if [ -z "$${TEMPORAL_ADDRESS:-}" ]; then $(MAKE) --no-print-directory $(BIN)/temporal; fi
	@scripts/dev-stack.sh up

.PHONY: mock
mock: build ## start the mock upstream in the background (idempotent)
	@if curl -sf -o /dev/null http://$(MOCK_ADDR)/v1/models; then echo "mock upstream already running at $(MOCK_ADDR)"; else \
		mkdir -p $(DEV)/logs; nohup $(BIN)/mockllm -addr $(MOCK_ADDR) -latency 50ms -ttft 100ms -tps 50 >$(DEV)/logs/mockllm.log 2>&1 & echo $$! > $(DEV)/mockllm.pid; \
		for i in $$(seq 1 50); do curl -sf -o /dev/null http://$(MOCK_ADDR)/v1/models && break; sleep 0.1; done; \
		echo "mock upstream running at $(MOCK_ADDR) (log: .dev/logs/mockllm.log)"; fi

.PHONY: run
run: build stack mock ## start everything and serve on PORT (default 8080)
	@$(with_env) \
	$(BIN)/airouter migrate up && \
	$(BIN)/airouter seed-demo --mock-url http://$(MOCK_ADDR) --token-file $(DEV)/demo.token && \
	echo "admin token: $$(cat $(DEV)/admin.token)   (try: curl -H \"Authorization: Bearer $$(cat $(DEV)/demo.token)\" http://localhost:$(PORT)/v1/models)" && \
	PORT=$(PORT) exec $(BIN)/airouter serve --worker

.PHONY: stop
stop: ## stop what make run / make test started
	@if [ -f $(DEV)/mockllm.pid ]; then kill $$(cat $(DEV)/mockllm.pid) 2>/dev/null || true; rm -f $(DEV)/mockllm.pid; fi
	@scripts/dev-stack.sh down

## ---- checks and tests ----
.PHONY: lint
# staticcheck runs its default checks; it skips files marked "Code generated
# ... DO NOT EDIT" (sqlcgen, *.gen.go) by itself.
lint: $(BIN)/staticcheck ## gofmt, go vet and staticcheck
	@out=$$(find . -name '*.go' -not -path './.dev/*' -not -path './adapters/postgres/sqlcgen/*' -not -name '*.gen.go' | xargs gofmt -l); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

.PHONY: test
test: $(BIN)/sqlc $(BIN)/oapi-codegen stack check-generated lint ## start the stack, then every check and test (go test -race)
	@$(with_env) \
	export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$DATABASE_URL}"; \
	$(GO) test -race -timeout 18m -count=1 ./...
	@$(MAKE) --no-print-directory bench-smoke

.PHONY: test-short
test-short: ## unit tests only, no PostgreSQL or Temporal
	$(GO) test -short -race ./...

.PHONY: bench-smoke
bench-smoke: ## a few seconds of the benchmark harness, to keep it working (needs the stack: make test runs it)
	@$(with_env) \
	$(GO) run ./cmd/bench -smoke

.PHONY: bench
bench: build stack portkey ## the full benchmark (~11 min): router vs direct vs reverse proxy (and the Portkey gateway as a peer when node is present), report in bench/results
	@$(with_env) \
	pk=""; if [ -f $(PORTKEY_STAMP) ] && command -v node >/dev/null; then pk="-portkey $(PORTKEY_JS)"; fi; \
	$(GO) run ./cmd/bench -out bench/results $$pk
	@$(with_env) \
	export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$DATABASE_URL}"; \
	$(GO) test -run '^$$' -bench 'BenchmarkLease' -benchmem ./core/limits/ ./adapters/postgres/ | tee bench/results/lease-latest.txt

.PHONY: portkey
portkey: ## install the Portkey gateway (pinned) into .dev/portkey for make bench's peer row; skipped without node and npm
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(PORTKEY_STAMP) || echo "portkey: install failed; make bench runs without the Portkey row"; \
	else echo "portkey: node or npm not found; make bench runs without the Portkey row"; fi

$(PORTKEY_STAMP):
	rm -rf $(DEV)/portkey && mkdir -p $(DEV)/portkey
	printf '{"private":true,"overrides":{"@hono/node-server":"%s"}}\n' $(PORTKEY_HONO_NODE_SERVER) > $(DEV)/portkey/package.json
	npm install --prefix $(DEV)/portkey --save-exact --no-audit --no-fund @portkey-ai/gateway@$(PORTKEY_VERSION)
	test -f $(PORTKEY_JS)
	touch $@

.PHONY: clean
clean: stop ## stop the stack and remove .dev and bin
	rm -rf $(DEV) $(BIN)

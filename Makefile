# ledgersync: make run (all-in-one with local simulators), make test (everything CI runs).
SHELL := /bin/bash
GO ?= go
BIN := bin/syncd
CLICKHOUSE := deploy/local/clickhouse.sh
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
export SYNC_DATA_DIR ?= $(CURDIR)/.data
# Seconds per fuzz target in make test; make fuzz runs them longer.
FUZZTIME ?= 5s

.PHONY: build test run lint bench bench-throttled fuzz clickhouse-start clickhouse-stop clean

build:
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./services/syncd

# Installs and starts a private ClickHouse when none answers, installs
# headless Chromium for the browser tests (screenshots of the main pages go
# to .data/screenshots), runs every test (NATS runs embedded in the test
# processes), a short round of each fuzz target, and stops the ClickHouse it
# started, pass or fail.
# The published-client tests of the simulators install their npm packages.
test: export SIM_QBO_NODE_COMPAT = 1
test: export SIM_HUBSPOT_NODE_COMPAT = 1
test: export LEDGERSYNC_BROWSER_TESTS = required
test: export LEDGERSYNC_SCREENSHOTS = $(CURDIR)/.data/screenshots
test:
	@deploy/local/chromium.sh >/dev/null && mkdir -p .data/screenshots || exit $$?; \
	state=$$($(CLICKHOUSE) start) || exit $$?; \
	if [ "$$state" = started ]; then trap '$(CLICKHOUSE) stop' EXIT; fi; \
	$(GO) vet ./... && \
	$(GO) test -count=1 -timeout 12m ./... && \
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# Runs every fuzz target for FUZZTIME (go test allows one target per run).
# A finding fails at once (go test writes its input under testdata/fuzz and
# says "Failing input written"). A bare "context deadline exceeded" with no
# input written is Go's own race at the end of -fuzztime on a busy machine
# (golang/go#75804, fixed in Go 1.27): that target is run again, up to three
# times in all.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -hoE '^func Fuzz[A-Za-z0-9_]+' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    for try in 1 2 3; do \
	      echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	      if out=$$($(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); then break; fi; \
	      echo "$$out" | tail -20; \
	      if echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -q 'context deadline exceeded'; then \
	        echo "fuzz $$f found a failing input (see above)"; exit 1; fi; \
	      if [ $$try = 3 ]; then echo "fuzz $$f: deadline race three times in a row"; exit 1; fi; \
	      echo "fuzz $$f: Go's end-of-fuzztime race (golang/go#75804), no input written; running it again"; \
	    done; \
	  done; \
	done

# The product on this machine: every service in one process with NATS
# embedded, the local ClickHouse, the HubSpot and QBO simulators with demo data.
run: build
	@$(CLICKHOUSE) start >/dev/null
	@. deploy/local/demo.env; \
	echo "admin API: http://127.0.0.1:8080/api/connections  (Authorization: Bearer $$SYNC_ADMIN_TOKEN)"; \
	echo "web app:   http://127.0.0.1:8080/app  (sign in as $$SYNC_ADMIN_EMAIL / $$SYNC_ADMIN_PASSWORD)"; \
	exec ./$(BIN) run -target=$${SYNC_TARGETS:-all,sim}

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Benchmarks (never part of make test): figures for the issue notes.
bench:
	@state=$$($(CLICKHOUSE) start) || exit $$?; \
	if [ "$$state" = started ]; then trap '$(CLICKHOUSE) stop' EXIT; fi; \
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 20m ./services/activitysink/ && \
	$(GO) test -run '^$$' -bench 'FirstSyncAllStages|ChangeLatency' -benchtime 1x -timeout 30m ./services/syncd/ && \
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

# First syncs against the real throttles: 5,000 contacts into QBO (about 21
# minutes; QBO allows 500 requests a minute per company), then 2,000
# invoices of 5 lines into HubSpot and into QBO (about 40 minutes).
bench-throttled:
	@state=$$($(CLICKHOUSE) start) || exit $$?; \
	if [ "$$state" = started ]; then trap '$(CLICKHOUSE) stop' EXIT; fi; \
	$(GO) test -run '^$$' -bench FirstSyncIntoThrottledQBO -benchtime 1x -timeout 60m ./services/syncd/ && \
	$(GO) test -run '^$$' -bench InvoicesFirstSync -benchtime 1x -timeout 90m ./services/syncd/

clickhouse-start:
	@$(CLICKHOUSE) start >/dev/null

clickhouse-stop:
	@$(CLICKHOUSE) stop

clean:
	rm -rf bin

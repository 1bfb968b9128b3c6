# Two commands on a fresh Debian/Python 3.11 machine: `make run` and `make test`.
# Both set up .venv and fetch the bundled model on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/isnet-medium.onnx

.PHONY: setup run test lint bench clean

setup: $(STAMP) $(MODEL)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Build/setup time only: the product itself never downloads anything.
$(MODEL): models/fetch.py models/manifest.json
	$(BIN)/python models/fetch.py
	touch $@

run: setup
	$(BIN)/knockout sample -o knockout-output

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check app tests bench models
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache knockout-output

# Two commands on a fresh Debian/Python 3.11 machine: `make run` and `make test`.
# Both set up .venv and fetch the bundled model on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/isnet-medium-int8.onnx

.PHONY: setup system-deps run sample test lint bench clean package

setup: $(STAMP) $(MODEL)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,gui]'
	touch $@

# Build/setup time only: the product itself never downloads anything.
$(MODEL): models/fetch.py models/manifest.json
	$(BIN)/python models/fetch.py
	touch $@

# Opens the desktop window; on a machine without a display it cuts out the sample photo instead.
run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(BIN)/knockout app; \
	else echo "No display: cutting out the sample photo with the command line instead."; \
	$(BIN)/knockout sample -o knockout-output; fi

sample: setup
	$(BIN)/knockout sample -o knockout-output

# Debian packages the tests need (Chromium, Xvfb, Qt's X11 libraries, npm); installs only what is missing.
system-deps:
	packaging/debian-test-deps.sh

test: system-deps setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check app tests bench models
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/throughput.py

# Linux release into dist/: .deb, SBOM, SHA256SUMS (+ .asc with KNOCKOUT_GPG_KEY[_ID]); see packaging/README.md.
package: setup
	packaging/linux/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache knockout-output

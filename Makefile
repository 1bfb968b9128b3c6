# Two commands on a fresh Debian/Python 3.11 machine: `make run` and `make test`.
# Both set up .venv and fetch the bundled model on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/isnet-medium-int8.onnx
# The accessibility checker the UI tests run in the page: test setup only, never in ui/ or a package.
AXE := .cache/axe-core/axe.min.js

.PHONY: setup venv system-deps run sample test test-fast lint bench clean package

setup: $(STAMP) $(MODEL)

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,gui,cluster]'
	touch $@

# Build/setup time only: the product itself never downloads anything.
$(MODEL): models/fetch.py models/manifest.json
	$(BIN)/python models/fetch.py
	touch $@

$(AXE): tests/vendor/fetch_axe.py | $(STAMP)
	$(BIN)/python tests/vendor/fetch_axe.py
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

# Everything: core, tiny graphs, the real model, the page in Chromium, the real window (what CI runs).
test: system-deps setup $(AXE)
	$(BIN)/python -m pytest

# The developers' inner loop: no browser, no window, no real model, nothing slow; needs only .venv.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not ui and not window and not model and not slow"

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

# tinytorch developer commands. Everything runs inside a local virtual environment, .venv,
# created on first use; a stamp file per extra reinstalls only when pyproject.toml changes.
#
#   make demo    run every historical milestone (installs the demo extra: plots, progress bars)
#   make test    run the whole test suite (installs the test extra, torch==2.13.0 included)
#   make bench   time tinytorch against PyTorch and raw NumPy (BENCH_ARGS=--quick for a short run)
#   make lint    ruff check (installs the dev extra)
#   make clean   remove caches and build output; `make distclean` also removes .venv

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test bench lint clean distclean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip, not uv: the pinned torch wheel resolves through pip's configured indexes.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/tinytorch milestones run all

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The test extra brings torch and threadpoolctl, which the benchmark reports compare against.
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

clean:
	rm -rf build dist *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

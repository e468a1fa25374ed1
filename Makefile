# Two entry points (see README): `make tour` and `make test`. Both create .venv and install on
# first use; everything else is optional.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: tour tour-full test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

tour: $(STAMP)          ## all examples, quick mode (minutes on 2 CPU cores) -> runs/
	$(BIN)/jaxhybrid tour --quick --out runs

tour-full: $(STAMP)     ## all examples, full size -> runs/
	$(BIN)/jaxhybrid tour --out runs

# Tests run in 2 worker processes (one per core; XLA compilation, which dominates, is
# single-threaded), a test file per worker so module fixtures are built once, and share a
# persistent XLA compilation cache so notebooks reuse what the example tests compiled; one OpenBLAS
# thread (jaxlib's LAPACK kernels; see jaxhybrid/__init__.py).
PYTEST := OPENBLAS_NUM_THREADS=1 JAX_COMPILATION_CACHE_DIR=$(CURDIR)/.jax_cache TQDM_DISABLE=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=40

test: $(STAMP)          ## the whole suite, slow checks and notebooks (quick mode) included
	JAXHYBRID_QUICK=1 $(PYTEST) tests --nbmake --nbmake-timeout=1200 notebooks

test-fast: $(STAMP)     ## skip the checks marked slow and the notebooks
	$(PYTEST) -m "not slow" tests

bench: $(STAMP)         ## peer benchmarks (installs the peers: exponax, jax-md)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/pde_spectral.py
	$(BIN)/python benchmarks/md_lj.py

clean:
	rm -rf $(VENV) runs

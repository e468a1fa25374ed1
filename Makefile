# Two entry points (see README): `make tour` and `make test`. Both create .venv and install on
# first use; everything else is optional.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: tour tour-full test test-fast test-slow test-durations bench clean

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
# persistent XLA compilation cache; one OpenBLAS thread (jaxlib's LAPACK kernels; see
# jaxhybrid/__init__.py). Three tiers (README, "Tests"):
#   test-fast  unit and property tests (not marked `example`, `heavy` or `slow`; `heavy` comes from
#              the measured tests/durations.json, `make test-durations`)
#   test       test-fast + every example's quick run with its headline check   ~15 min
#              + the notebooks, which read the examples' runs from $(RECORDS)
#              instead of running them again (jaxhybrid.examples.run_or_load)
#   test-slow  the long checks marked `slow` (NVE at 4,000 atoms, retraining shipped weights, ...)
RECORDS := $(CURDIR)/.test-records
PYTEST := OPENBLAS_NUM_THREADS=1 JAX_COMPILATION_CACHE_DIR=$(CURDIR)/.jax_cache TQDM_DISABLE=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

test: $(STAMP)          ## fast tier + example quick runs + notebooks (the README's test command)
	rm -rf $(RECORDS)
	JAXHYBRID_QUICK=1 JAXHYBRID_RECORDS=$(RECORDS) $(PYTEST) -m "not slow" tests --nbmake --nbmake-timeout=1200 notebooks

test-fast: $(STAMP)     ## unit and property tests only (the edit-test loop)
	$(PYTEST) -m "not slow and not example and not heavy" tests

test-durations: $(STAMP) ## re-measure tests/durations.json (which tests are `heavy`); run it on idle cores
	rm -f .durations.json.*
	JAXHYBRID_WRITE_DURATIONS=$(CURDIR)/.durations.json $(PYTEST) -m "not slow and not example" tests
	$(BIN)/python -c 'import glob, json; d = {}; [d.update(json.load(open(f))) for f in glob.glob(".durations.json.*")]; \
	  json.dump({"_about": "seconds per test (setup + call + teardown), make test-durations, 2 CPU cores", "durations": dict(sorted(d.items()))}, open("tests/durations.json", "w"), indent=0)'
	rm -f .durations.json.*

test-slow: $(STAMP)     ## the long checks marked slow
	$(PYTEST) -m slow tests

bench: $(STAMP)         ## peer benchmarks (installs the peers: exponax, jax-md)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/pde_spectral.py
	$(BIN)/python benchmarks/md_lj.py

clean:
	rm -rf $(VENV) runs

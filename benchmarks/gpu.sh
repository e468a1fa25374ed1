#!/usr/bin/env bash
# Device run: peer benchmarks and a core correctness check on a lent GPU; results under $OUT.
# The device has no registry access, so the peers come as wheels carried in .wheels/:
#   pip download --no-deps -d .wheels jax-md exponax blackjax e3nn-jax jraph ml-collections \
#       frozendict einops absl-py sympy mpmath pyyaml
# Usage from the repository root on the device:  OUT=/some/dir bash benchmarks/gpu.sh
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TQDM_DISABLE=1
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import sys, jax, equinox, diffrax, optax, flax; print(sys.version.split()[0], 'jax', jax.__version__, jax.devices(), 'equinox', equinox.__version__, 'diffrax', diffrax.__version__, 'optax', optax.__version__, 'flax', flax.__version__)"
  python -m pip install -q --no-deps --no-index --find-links .wheels jax-md exponax blackjax e3nn-jax jraph \
      ml-collections frozendict einops absl-py sympy mpmath pyyaml 2>&1 | grep -v -i warning | tail -3
  python -c "import jax_md, exponax, blackjax; print('peers import ok')"
} 2>&1 | tee "$OUT/env.txt"

step() { local name=$1 limit=$2; shift 2; echo "=== $name ($(date +%T))"; timeout "$limit" "$@"; echo "=== $name exit $? ($(date +%T))"; }
{
  step "md benchmark" 200 python benchmarks/md_lj.py --sizes 32000 256000 1000000 --json "$OUT/md_lj-gpu.json"
  step "pde benchmark" 150 python benchmarks/pde_spectral.py --json "$OUT/pde_spectral-gpu.json"
  step "langevin benchmark" 150 python benchmarks/langevin.py --json "$OUT/langevin-gpu.json"
  step "core tests" 60 python -m pytest -q -x -p no:cacheprovider tests/test_rollout.py tests/test_train.py
} 2>&1 | tee "$OUT/log.txt"

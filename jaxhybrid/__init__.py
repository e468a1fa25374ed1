"""jaxhybrid: data- and mechanism-driven hybrid scientific computing in JAX.

Core (small, generic): :mod:`jaxhybrid.algorithm` (the one ``(init, step)`` protocol),
:mod:`jaxhybrid.rollout` (``rollout``, ``evolve``), :mod:`jaxhybrid.driver` (``drive``, the host
driver), :mod:`jaxhybrid.train` (``trainer``, ``fit``), :mod:`jaxhybrid.nn`,
:mod:`jaxhybrid.ensemble`, :mod:`jaxhybrid.paradigms`, :mod:`jaxhybrid.metrics`,
:mod:`jaxhybrid.cache`. Mechanism engines and hybrid applications live in sub-packages and are
imported explicitly (``from jaxhybrid import pde``). README, section "Design", describes the
layers and the protocol.
"""

import os as _os

# jaxlib's CPU LAPACK kernels (Cholesky, eigh, LU: every Levenberg–Marquardt step, the Gaussian
# posteriors, the ETKF's square roots) run on SciPy's OpenBLAS, whose worker threads compete with
# XLA's own thread pool: 200 LM iterations of pinn-multistage cost 25 CPU-s with OpenBLAS threads
# and 3 CPU-s without. One OpenBLAS thread is the default unless the user set the variable; it only
# takes effect when jaxhybrid is imported before numpy/scipy (the CLI, `make test`).
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

"""jaxhybrid: data- and mechanism-driven hybrid scientific computing in JAX.

Core (small, generic): :mod:`jaxhybrid.rollout`, :mod:`jaxhybrid.train`, :mod:`jaxhybrid.nn`,
:mod:`jaxhybrid.ensemble`, :mod:`jaxhybrid.paradigms`. Mechanism engines and hybrid
applications live in sub-packages and are imported explicitly (``from jaxhybrid import pde``).
"""

__version__ = "0.1.0"

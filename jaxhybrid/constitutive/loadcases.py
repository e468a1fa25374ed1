"""Standard experimental load cases of (nearly) incompressible solids and fitting to them.

Treloar-type tests report the stretch ``λ`` and the nominal stress ``P₁₁`` (force per
reference area). With incompressibility (``J = 1``) the kinematics are::

    uniaxial     F = diag(λ, λ^{-1/2}, λ^{-1/2}),   P₂₂ = P₃₃ = 0
    equibiaxial  F = diag(λ, λ, λ^{-2}),            P₃₃ = 0   (P₂₂ = P₁₁)
    pure shear   F = diag(λ, 1, λ^{-1}),            P₃₃ = 0   (width held)

and the stress of an energy ``W(F)`` is ``P = ∂W/∂F − p F^{-T}`` with the pressure ``p``
fixed by the traction-free thickness direction: ``P₃₃ = 0 ⇒ p = F₃₃ (∂W/∂F)₃₃``
(Holzapfel 2000, §7.2; for neo-Hookean ``W = μ/2 (I₁ − 3)``: uniaxial ``P₁₁ = μ(λ − λ⁻²)``,
equibiaxial ``μ(λ − λ⁻⁵)``, pure shear ``μ(λ − λ⁻³)``).

The CSV format (one header line)::

    case,stretch,nominal_stress          case ∈ {uniaxial, equibiaxial, pure_shear}

``data_files/rubber_load_cases.csv`` ships with the package; it is written by
:func:`write_reference_csv` from a Mooney–Rivlin law (c₁₀ = 0.16, c₀₁ = 0.015 MPa, stretches
1.05–4 / 1.05–2.5 / 1.05–3, 1% multiplicative noise with seed 0) and can be regenerated with
``python -c "from jaxhybrid.constitutive.loadcases import write_reference_csv; write_reference_csv()"``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CASES", "deformation", "nominal_stress", "read_csv", "write_reference_csv", "REFERENCE_CSV",
           "REFERENCE_MOONEY_RIVLIN"]

CASES = ("uniaxial", "equibiaxial", "pure_shear")
REFERENCE_CSV = Path(__file__).parent / "data_files" / "rubber_load_cases.csv"
REFERENCE_MOONEY_RIVLIN = {"c10": 0.16, "c01": 0.015, "kappa": 100.0}


def deformation(case: str, lam):
    """Incompressible ``F`` of load ``case`` at stretch ``lam`` (scalar)."""
    one = jnp.ones_like(lam)
    if case == "uniaxial":
        d = [lam, lam**-0.5, lam**-0.5]
    elif case == "equibiaxial":
        d = [lam, lam, lam**-2.0]
    elif case == "pure_shear":
        d = [lam, one, 1.0 / lam]
    else:
        raise ValueError(f"unknown load case {case!r}; use one of {CASES}.")
    return jnp.diag(jnp.stack(d))


def nominal_stress(energy: Callable, case: str, lam) -> jax.Array:
    """``P₁₁`` of ``energy(F)`` in load ``case`` at stretch ``lam`` (incompressible, see module)."""
    F = deformation(case, lam)
    dW = jax.grad(energy)(F)
    p = F[2, 2] * dW[2, 2]
    return dW[0, 0] - p / F[0, 0]


def read_csv(path=REFERENCE_CSV) -> dict:
    """``{case: (stretch (n,), nominal_stress (n,))}`` from a load-case CSV."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"read_csv: {path} does not exist; write one with write_reference_csv(path).")
    rows: dict = {}
    with open(path) as f:
        reader = csv.DictReader(f)
        need = {"case", "stretch", "nominal_stress"}
        if not need <= set(reader.fieldnames or []):
            raise ValueError(f"read_csv: {path} needs the columns {sorted(need)}, found {reader.fieldnames}.")
        for r in reader:
            if r["case"] not in CASES:
                raise ValueError(f"read_csv: unknown case {r['case']!r} in {path}; use one of {CASES}.")
            rows.setdefault(r["case"], []).append((float(r["stretch"]), float(r["nominal_stress"])))
    return {c: (np.array([a for a, _ in v]), np.array([b for _, b in v])) for c, v in rows.items()}


def write_reference_csv(path=REFERENCE_CSV, noise: float = 0.01, seed: int = 0) -> Path:
    """Write the reference data set (Mooney–Rivlin, see module docstring) to ``path``."""
    from .laws import mooney_rivlin

    law = mooney_rivlin(**REFERENCE_MOONEY_RIVLIN)
    rng = np.random.default_rng(seed)
    ranges = {"uniaxial": (1.05, 4.0, 24), "equibiaxial": (1.05, 2.5, 16), "pure_shear": (1.05, 3.0, 16)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with jax.enable_x64(True):
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["case", "stretch", "nominal_stress"])
            for case, (a, b, n) in ranges.items():
                lam = np.linspace(a, b, n)
                P = np.asarray(jax.vmap(lambda l: nominal_stress(law.energy, case, l))(jnp.asarray(lam)))
                P = P * (1.0 + noise * rng.standard_normal(n))
                for l, p in zip(lam, P):
                    w.writerow([case, f"{l:.4f}", f"{p:.6g}"])
    return path

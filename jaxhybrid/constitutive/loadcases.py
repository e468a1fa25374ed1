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
import io
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxhybrid.store import atomic_write

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
    """``{case: (stretch (n,), nominal_stress (n,))}`` from a load-case CSV (module docstring).

    Raises ``ValueError`` naming the file and the line for: a missing file, a file that is not
    UTF-8 text or not CSV, missing columns, an unknown case, an empty or non-numeric value, a
    stretch that is not positive or a value that is not finite, and a file without data rows."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"read_csv: {path} does not exist or is not a file; write one with write_reference_csv(path).")
    rows: dict = {}
    need = ("case", "stretch", "nominal_stress")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = [x.strip() for x in (reader.fieldnames or [])]
            if not set(need) <= set(fields):
                raise ValueError(f"read_csv: {path} needs the header line 'case,stretch,nominal_stress', found "
                                 f"{reader.fieldnames}.")
            reader.fieldnames = fields
            for r in reader:
                line = reader.line_num
                vals = [r.get(k) for k in need]
                if all(v is None or not str(v).strip() for v in vals) and not any(r.get(k) for k in r if k):
                    continue  # a blank line
                if any(v is None or not str(v).strip() for v in vals):
                    raise ValueError(f"read_csv: {path} line {line}: need the three values case, stretch, "
                                     f"nominal_stress; got {[r.get(k) for k in need]}.")
                case = vals[0].strip()
                if case not in CASES:
                    raise ValueError(f"read_csv: unknown case {case!r} in {path} line {line}; use one of {CASES}.")
                try:
                    lam, P = float(vals[1]), float(vals[2])
                except ValueError:
                    raise ValueError(f"read_csv: {path} line {line}: stretch and nominal_stress must be numbers, got "
                                     f"{vals[1]!r}, {vals[2]!r}.") from None
                if not (np.isfinite(lam) and np.isfinite(P)):
                    raise ValueError(f"read_csv: {path} line {line}: stretch and nominal_stress must be finite, got "
                                     f"{lam}, {P}.")
                if not lam > 0:
                    raise ValueError(f"read_csv: {path} line {line}: the stretch must be positive (λ = current / "
                                     f"reference length), got {lam}.")
                rows.setdefault(case, []).append((lam, P))
    except UnicodeDecodeError as e:
        raise ValueError(f"read_csv: {path} is not UTF-8 text ({e}).") from None
    except csv.Error as e:
        raise ValueError(f"read_csv: {path} is not valid CSV ({e}).") from None
    if not rows:
        raise ValueError(f"read_csv: {path} has no data rows (only a header); add rows 'case,stretch,nominal_stress'.")
    return {c: (np.array([a for a, _ in v]), np.array([b for _, b in v])) for c, v in rows.items()}


def write_reference_csv(path=REFERENCE_CSV, noise: float = 0.01, seed: int = 0) -> Path:
    """Write the reference data set (Mooney–Rivlin, see module docstring) to ``path``, atomically."""
    from .laws import mooney_rivlin

    law = mooney_rivlin(**REFERENCE_MOONEY_RIVLIN)
    rng = np.random.default_rng(seed)
    ranges = {"uniaxial": (1.05, 4.0, 24), "equibiaxial": (1.05, 2.5, 16), "pure_shear": (1.05, 3.0, 16)}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["case", "stretch", "nominal_stress"])
    with jax.enable_x64(True):
        for case, (a, b, n) in ranges.items():
            lam = np.linspace(a, b, n)
            P = np.asarray(jax.vmap(lambda l: nominal_stress(law.energy, case, l))(jnp.asarray(lam)))
            P = P * (1.0 + noise * rng.standard_normal(n))
            for l, p in zip(lam, P):
                w.writerow([case, f"{l:.4f}", f"{p:.6g}"])
    path = atomic_write(path, out.getvalue())  # a crash never leaves a half-written data set
    return path

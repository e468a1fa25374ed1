"""The issue's conservation benchmark: float64 NVE Lennard-Jones liquid, N = 4000,
ρ = 0.8442, T ≈ 0.72, r_c = 2.5 (shifted), δt = 0.005: total energy within 1e-4 relative over
10,000 steps. Slow (minutes on 2 CPU cores)."""

import jax
import numpy as np
import pytest

from jaxhybrid import md


@pytest.mark.slow
def test_nve_lj_liquid_4000_conserves_energy_over_10000_steps():
    with jax.enable_x64(True):
        R, box = md.lj_liquid_box(4000, 0.8442)
        lj = md.lennard_jones(cutoff=2.5)
        # melt the lattice and equilibrate at T = 0.72 (Langevin), then switch to NVE
        hot = md.simulate(lj, R, box, n_steps=300, dt=0.005, temperature=1.5, ensemble="langevin", gamma=5.0,
                          thermo_every=100, progress=False, compute_pressure=False,
                          key=jax.random.PRNGKey(0))
        eq = md.simulate(lj, hot.state.positions, box, n_steps=500, dt=0.005, temperature=0.72, momenta=hot.state.momenta,
                         ensemble="langevin", gamma=5.0, thermo_every=100, progress=False, compute_pressure=False,
                         key=jax.random.PRNGKey(1))
        out = md.simulate(lj, eq.state.positions, box, n_steps=10_000, dt=0.005, momenta=eq.state.momenta,
                          thermo_every=50, chunk_size=2500, progress=False, compute_pressure=False)
        E = out.thermo["total"]
        drift = np.max(np.abs(E - E[0])) / abs(E[0])
        T = out.thermo["temperature"].mean()
        print(f"N=4000 NVE: max |E(t)-E(0)|/|E(0)| = {drift:.2e}, <T> = {T:.3f}, rebuilds = {out.n_rebuilds}")
        assert drift < 1e-4, drift
        assert 0.6 < T < 0.85, T

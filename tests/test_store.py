"""The one atomic writer and the model-file format (jaxhybrid.store)."""

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxhybrid import store


def test_atomic_write_replaces_whole_files_and_keeps_the_previous(tmp_path):
    p = tmp_path / "sub" / "a.json"
    store.atomic_write(p, "one")
    assert p.read_text() == "one" and not store.previous(p).exists()
    store.atomic_write(p, b"two", keep_previous=True)
    assert p.read_text() == "two" and store.previous(p).read_text() == "one"
    store.atomic_write(p, lambda f: f.write(b"three"), keep_previous=True)
    assert p.read_text() == "three" and store.previous(p).read_text() == "two"
    assert store.previous(p).name == "a.prev.json"
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.json", "a.prev.json"]  # no temporary left


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    p = tmp_path / "a.bin"
    store.atomic_write(p, b"good")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.atomic_write(p, broken, keep_previous=True)
    assert p.read_bytes() == b"good" and os.listdir(tmp_path) == ["a.bin"]


def test_model_round_trip_is_exact_and_damage_names_the_file(tmp_path):
    net = eqx.nn.MLP(3, 2, 8, 2, key=jax.random.PRNGKey(0))
    p = store.write_model(tmp_path / "m.eqx", {"width": 8, "depth": 2}, (net, jnp.arange(3)))
    like = lambda h: (eqx.nn.MLP(3, 2, h["width"], h["depth"], key=jax.random.PRNGKey(1)), jnp.zeros(3, int))
    (got, arr), header = store.read_model(p, like)
    assert header == {"width": 8, "depth": 2} and store.read_header(p) == header
    x = jnp.ones(3)
    assert np.array_equal(got(x), net(x)) and np.array_equal(arr, np.arange(3))
    data = p.read_bytes()
    for bad, what in [(data[:-7], "damaged"), (data + b"x", "left over")]:
        p.write_bytes(bad)
        with pytest.raises(ValueError, match=f"m.eqx.*{what}.*start over") as e:
            store.read_model(p, like, hint="start over")
        assert str(p) in str(e.value)
    p.write_bytes(data)
    with pytest.raises(ValueError, match="m.eqx.*do not match"):  # another structure
        store.read_model(p, lambda h: (eqx.nn.MLP(3, 2, 4, 2, key=jax.random.PRNGKey(1)), jnp.zeros(3, int)))
    p.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="m.eqx: not a jaxhybrid model file"):
        store.read_header(p)

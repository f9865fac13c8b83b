"""The `ganad` command starts without JAX, pandas, SciPy or matplotlib where it only prints text,
and the catalog it reads agrees with the registry."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ganad_jax import catalog, detectors

HEAVY = ("jax", "flax", "optax", "pandas", "scipy", "matplotlib", "sklearn", "orbax")

PROBE = """
import contextlib, io, json, sys
from ganad_jax import cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = cli.main(sys.argv[1:])
    except SystemExit as exit:  # --help
        code = exit.code
# a package counts as loaded once its submodules are (a lazy module waiting for first use has none)
loaded = sorted({m.split(".")[0] for m in sys.modules if "." in m} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "loaded": loaded}))
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["list"], ["data", "list"], ["bench", "--help"], ["train", "--help"]]
)
def test_text_commands_import_nothing_heavy(argv):
    probe = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": []}


def test_catalog_matches_the_registry():
    for name in catalog.names():
        detector = detectors.get(name)
        assert detector.name == name
        assert detector.modalities == catalog.entry(name).modalities
    with pytest.raises(KeyError, match="known: alad"):
        detectors.get("no-such-detector")

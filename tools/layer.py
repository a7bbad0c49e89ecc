"""The shared layer as `sam build` makes it: its own Makefile, run into a folder of our choosing.

The cold-start benchmark and the layer's tests use the bytes Lambda would get, not the sources.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tools.template import ROOT

LAYER_SOURCE = ROOT / "layers" / "shared"
PYC_TAG = "cpython-313"  # the Lambda runtime's interpreter (python3.13)


def build_layer(artifacts: Path) -> Path:
    """Run the layer's build (BuildMethod: makefile) into ``artifacts``; returns its ``python`` folder."""
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), "build-SharedLayer", f"ARTIFACTS_DIR={artifacts}"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return artifacts / "python"

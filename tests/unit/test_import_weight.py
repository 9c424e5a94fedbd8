"""An API-only node never loads torch: importing the app, the CLI and the service must not pull it in."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["videosynth.api.app", "videosynth.cli", "videosynth.service"])
def test_api_side_imports_no_torch(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "heavy = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == ""

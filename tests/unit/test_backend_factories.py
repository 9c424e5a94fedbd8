"""backends/factories: the registry's backend name picks the factory; nothing heavy is imported before a build."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from videosynth.backends.factories import FACTORIES, build_backend
from videosynth.registry import ENTRY_PARSERS
from videosynth.settings import Settings


def test_every_backend_an_entry_may_name_has_a_factory() -> None:
    assert set(FACTORIES) == set(ENTRY_PARSERS)


@dataclass(frozen=True)
class _Entry:
    name: str = "far"
    backend: str = "teleport"
    description: str = ""


def test_an_entry_whose_backend_this_worker_cannot_build_is_named() -> None:
    with pytest.raises(ValueError, match="model 'far' names backend 'teleport', which this worker cannot build"):
        build_backend(Settings(), _Entry())


def test_choosing_a_backend_imports_no_backend_and_no_torch() -> None:
    code = (
        "import sys, videosynth.backends.factories, videosynth.worker.process\n"
        "heavy = sorted({'torch', 'diffusers', 'videosynth.backends.wan'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

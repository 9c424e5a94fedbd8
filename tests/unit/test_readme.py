"""The README stays true: its configuration table names every setting, and its two commands are the real ones."""

from __future__ import annotations

from pathlib import Path

from videosynth.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [
        f"VIDEOSYNTH_{name.upper()}" for name in Settings.model_fields if f"`VIDEOSYNTH_{name.upper()}`" not in text
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install torch==2.13.0 -e '.[wan,dev]' && pytest" in text
    assert "pip install -q torch==2.13.0 -e '.[wan,dev]'" in ci and "\npytest\n" in ci

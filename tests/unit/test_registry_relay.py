"""registry/relay_entry: a backend = "relay" entry, its keys checked, and the key variable read only at build."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from videosynth.backends.factories import build_backend
from videosynth.backends.relay import RelayBackend
from videosynth.registry import RegistryError, RelayEntry, parse_registry, relay_entry, served_models
from videosynth.registry.relay_entry import RelayConfigError
from videosynth.settings import Settings

_GOOD = """
[aliases]
"wan2.7-t2v" = "cloud"
[models.cloud]
backend = "relay"
base_url = "https://relay.example.com/wan/"
api_key_env = "UPSTREAM_KEY"
upstream_model = "wan2.7-t2v"
max_concurrency = 4
deadline_s = 600
allow_private = true
"""


def _parse(text: str) -> object:
    return parse_registry(tomllib.loads(text), "r.toml")


def test_a_relay_entry_is_parsed_and_reached_through_aliases() -> None:
    registry = parse_registry(tomllib.loads(_GOOD), "r.toml")
    entry = registry.entry_for("wan2.7-t2v")
    assert entry == RelayEntry(
        name="cloud",
        base_url="https://relay.example.com/wan",
        api_key_env="UPSTREAM_KEY",
        upstream_model="wan2.7-t2v",
        max_concurrency=4,
        deadline_s=600.0,
        allow_private=True,
    )
    assert entry.backend == "relay" and entry.duration_limit is None
    assert served_models(registry)["wan2.7-t2v"].limit is None
    assert registry.public_names_for("cloud") == ("wan2.7-t2v",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('checkpoint = "/x"', r"unknown key\(s\) checkpoint"),
        ('api_key = "sk-123"', r"unknown key\(s\) api_key"),
        ('base_url = ""', "needs base_url"),
        ('base_url = "ftp://x"', "base_url must be an http"),
        ('base_url = "https://x/api/v1"', "without /api/v1"),
        ('api_key_env = "sk-abc def"', "api_key_env names an environment variable"),
        ("max_concurrency = 0", "max_concurrency must be ≥ 1"),
        ("deadline_s = 0", "deadline_s must be > 0"),
        ('allow_private = "yes"', "allow_private must be true or false"),
    ],
)
def test_bad_relay_entries_name_file_and_key(change: str, message: str) -> None:
    key = change.split(" = ", maxsplit=1)[0]
    lines = [line for line in _GOOD.splitlines() if not line.startswith(f"{key} =")]
    with pytest.raises(RegistryError, match=r"r\.toml: \[models.'cloud'\].*" + message):
        _parse("\n".join([*lines, change]))


def test_missing_required_keys_are_named() -> None:
    with pytest.raises(RegistryError, match="needs api_key_env"):
        _parse('[models.c]\nbackend = "relay"\nbase_url = "https://x"\nupstream_model = "wan2.7-t2v"\n')


def test_the_key_variable_must_be_set_when_the_backend_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = relay_entry(parse_registry(tomllib.loads(_GOOD), "r.toml").models["cloud"])
    monkeypatch.delenv("UPSTREAM_KEY", raising=False)
    with pytest.raises(RelayConfigError, match=r"\$UPSTREAM_KEY, which is not set"):
        build_backend(Settings(), entry)
    monkeypatch.setenv("UPSTREAM_KEY", "sk-secret-value")
    backend = build_backend(Settings(), entry)
    assert isinstance(backend, RelayBackend)
    assert backend.device == "relay:relay.example.com"
    assert backend.capabilities.forwards_request
    assert "sk-secret-value" not in repr(entry)


def test_a_relay_worker_loads_no_torch() -> None:
    code = (
        "import os, sys, tomllib, videosynth.worker.process\n"
        "from videosynth.backends.factories import build_backend\n"
        "from videosynth.registry import parse_registry\n"
        "from videosynth.settings import Settings\n"
        f"registry = parse_registry(tomllib.loads({_GOOD!r}), 'r.toml')\n"
        "os.environ['UPSTREAM_KEY'] = 'k'\n"
        "build_backend(Settings(), registry.entry_for('wan2.7-t2v'))\n"
        "heavy = sorted({'torch', 'diffusers', 'videosynth.backends.wan'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

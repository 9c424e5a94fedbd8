from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videosynth.prompting import ExtensionConfigError, NoExtension, build_extender, describe
from videosynth.prompting.extender import RewritingExtender
from videosynth.settings import Settings


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_none_means_prompts_as_given(tmp_path: Path) -> None:
    s = settings(tmp_path)
    extender = build_extender(s)
    assert isinstance(extender, NoExtension)
    outcome = extender.extend("a cat")
    assert (outcome.status, outcome.prompt, outcome.actual_prompt) == ("disabled", "a cat", None)
    assert describe(s) == "prompt extension off"


@pytest.mark.parametrize("provider", ["openai", "local"])
def test_provider_without_model_is_a_config_error(tmp_path: Path, provider: str) -> None:
    s = settings(tmp_path, prompt_extend_provider=provider)
    with pytest.raises(ExtensionConfigError, match="VIDEOSYNTH_PROMPT_EXTEND_MODEL"):
        build_extender(s)
    assert describe(s) == f"prompt extension misconfigured: provider {provider} without a model"


def test_describe_openai_never_shows_the_key(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        prompt_extend_provider="openai",
        prompt_extend_base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        prompt_extend_api_key="sk-very-secret",
        prompt_extend_model="qwen-plus",
    )
    line = describe(s)
    assert line == (
        "prompt extension: openai-compatible https://dashscope.aliyuncs.com/compatible-mode/v1 model qwen-plus,"
        " timeout 30 s"
    )
    assert "secret" not in line
    no_url = settings(tmp_path, prompt_extend_provider="openai", prompt_extend_model="gpt-4o-mini")
    assert describe(no_url) == (
        "prompt extension: openai-compatible the default OpenAI endpoint model gpt-4o-mini, timeout 30 s"
    )


def test_describe_local(tmp_path: Path) -> None:
    s = settings(
        tmp_path, prompt_extend_provider="local", prompt_extend_model="/models/qwen", prompt_extend_timeout_s=12.5
    )
    assert describe(s) == "prompt extension: local model /models/qwen, timeout 12.5 s"


def test_heavy_dependencies_load_only_when_used(tmp_path: Path) -> None:
    """Importing the package, building a local extender and describing it touch neither openai nor torch."""
    code = f"""
import sys
from videosynth.prompting import build_extender, describe
from videosynth.settings import Settings
s = Settings(data_dir={str(tmp_path)!r}, prompt_extend_provider="local", prompt_extend_model="/nowhere")
extender = build_extender(s)
describe(s)
heavy = sorted(m for m in ("openai", "torch", "transformers") if m in sys.modules)
assert not heavy, heavy
print(type(extender).__name__)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == RewritingExtender.__name__

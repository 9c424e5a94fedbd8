"""prompt_extend through the DashScope dialect: actual_prompt on success, a recorded fallback otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_chat import API_KEY, MODEL, REWRITE, FakeChatServer, Reply, running_chat_server
from tests.support.server import Server, submit, wait_final


@pytest.fixture(scope="module")
def chat() -> Iterator[FakeChatServer]:
    with running_chat_server() as state:
        yield state


@pytest.fixture(scope="module")
def extending_server(chat: FakeChatServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "VIDEOSYNTH_PROMPT_EXTEND_PROVIDER": "openai",
        "VIDEOSYNTH_PROMPT_EXTEND_BASE_URL": chat.base_url,
        "VIDEOSYNTH_PROMPT_EXTEND_API_KEY": API_KEY,
        "VIDEOSYNTH_PROMPT_EXTEND_MODEL": MODEL,
        "VIDEOSYNTH_PROMPT_EXTEND_TIMEOUT_S": "5",
    }
    server = Server(Path(tmp_path_factory.mktemp("extend")), env).start()
    yield server
    server.stop()


def _run(server: Server, key: str, prompt: str, **parameters: object) -> dict[str, object]:
    body = {"model": "wan2.7-t2v", "input": {"prompt": prompt}, "parameters": {"duration": 2, **parameters}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    output: dict[str, object] = wait_final(server.base_url, key, task_id)["output"]
    return output


def test_extended_prompt_is_returned_as_actual_prompt(extending_server: Server, chat: FakeChatServer) -> None:
    chat.reset()
    key = extending_server.create_key()
    output = _run(extending_server, key, "a cat playing piano")
    assert output["task_status"] == "SUCCEEDED"
    assert output["orig_prompt"] == "a cat playing piano"
    assert output["actual_prompt"] == REWRITE
    extension = output["prompt_extension"]
    assert isinstance(extension, dict)
    assert extension["status"] == "extended" and extension["provider"] == "openai" and extension["model"] == MODEL
    assert [r.body["messages"][-1]["content"] for r in chat.received] == ["a cat playing piano"]


def test_failed_extension_falls_back_and_says_why(extending_server: Server, chat: FakeChatServer) -> None:
    chat.reset()
    chat.reply = Reply(status=500)
    key = extending_server.create_key()
    output = _run(extending_server, key, "a dog surfing")
    assert output["task_status"] == "SUCCEEDED"  # the video never fails because extension failed
    assert "actual_prompt" not in output
    extension = output["prompt_extension"]
    assert isinstance(extension, dict)
    assert extension["status"] == "fallback" and "500" in str(extension["reason"])


def test_prompt_extend_false_skips_the_provider(extending_server: Server, chat: FakeChatServer) -> None:
    chat.reset()
    key = extending_server.create_key()
    output = _run(extending_server, key, "a quiet lake", prompt_extend=False)
    assert output["task_status"] == "SUCCEEDED"
    assert "actual_prompt" not in output and "prompt_extension" not in output
    assert chat.hits == 0

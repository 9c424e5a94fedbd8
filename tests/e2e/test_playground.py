"""The web playground in Debian's Chromium (Playwright) against real `videosynth serve` processes: make a video and
watch it play, download it, refuse what the form or the server refuses, cancel a PENDING task and find it again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import CREATE_PATH, Server, headers, submit

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
# toolbox.md: the flags Debian's Chromium runs headless with here.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
SCREENSHOT_COPY = Path(__file__).resolve().parents[2] / ".screenshots"
WAIT_MS = 180_000  # the longest any one wait may take (a demo video takes seconds; CI is slow)
# Chromium logs every 4xx answer as a console error; only the tests that ask for one let its line through.
REFUSED_RESOURCE = "Failed to load resource: the server responded with a status of {}"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("playground-screenshots")
    print(f"playground screenshots: {folder} (and {SCREENSHOT_COPY})")
    return folder


class Console:
    """Every console error and uncaught exception of a page; a test ends by asserting there were none."""

    def __init__(self, page: sync_api.Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def assert_clean(self, *allowed_statuses: int) -> None:
        allowed = tuple(REFUSED_RESOURCE.format(status) for status in allowed_statuses)
        assert [error for error in self.errors if not error.startswith(allowed)] == []


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No worker, and at most two tasks queued per key: the third create is throttled."""
    env = {"VIDEOSYNTH_KEY_MAX_QUEUED": "2"}
    running = Server(tmp_path_factory.mktemp("throttled"), env, worker=False).start()
    yield running
    running.stop()


@pytest.fixture
def page(browser: sync_api.Browser) -> Iterator[sync_api.Page]:
    context = browser.new_context(
        viewport=WIDTHS["desktop"], accept_downloads=True, permissions=["clipboard-read", "clipboard-write"]
    )
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()


def screenshot(page: sync_api.Page, folder: Path, name: str) -> None:
    """The page at both widths, full length, saved in ``folder`` and copied to the worktree's .screenshots."""
    SCREENSHOT_COPY.mkdir(exist_ok=True)
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, SCREENSHOT_COPY / path.name)
    page.set_viewport_size(WIDTHS["desktop"])


def open_with_key(page: sync_api.Page, server: Server, key: str) -> None:
    page.goto(server.base_url + "/")
    assert page.url == f"{server.base_url}/playground"
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    sync_api.expect(page.get_by_label("Model")).not_to_have_value("")


def test_a_video_is_made_watched_played_and_downloaded(
    page: sync_api.Page, server: Server, key: str, shots: Path, tmp_path: Path
) -> None:
    console = Console(page)
    open_with_key(page, server, key)
    page.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk, waves on the rocks")
    page.get_by_label("Negative prompt").fill("blur")
    page.get_by_label("Duration").fill("2")
    sync_api.expect(page.locator("#duration-value")).to_have_text("2 s")
    page.get_by_role("button", name="Random").click()
    seed = page.get_by_label("Seed").input_value()
    assert seed.isdigit()
    page.get_by_role("button", name="Generate").click()

    # The task shows at once, then its status and progress move on until it has finished.
    status = page.locator("#current-status")
    sync_api.expect(status).not_to_be_empty()
    seen = _states_until_final(page)
    assert seen[-1] == ("SUCCEEDED", "100"), seen
    assert len(set(seen)) > 1 and seen[0] != seen[-1], seen

    # The result plays inline: enough data to play, and the playhead advancing.
    video = page.locator("#current-video")
    sync_api.expect(video).to_be_visible()
    assert video.evaluate("v => v.loop && v.muted && v.autoplay")
    page.wait_for_function(
        "() => { const v = document.querySelector('#current-video'); return v.readyState >= 3 && v.currentTime > 0; }"
    )
    first = video.evaluate("v => v.currentTime")
    page.wait_for_function(f"() => document.querySelector('#current-video').currentTime != {first}")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    saved = tmp_path / "video.mp4"
    download_info.value.save_as(saved)
    assert saved.read_bytes()[4:8] == b"ftyp"

    curl = page.locator("#curl").text_content() or ""
    assert "$DASHSCOPE_API_KEY" in curl and key not in curl
    assert f'"seed": {seed}' in curl and CREATE_PATH in curl and '"negative_prompt": "blur"' in curl
    page.get_by_role("button", name="Copy as curl").click()
    sync_api.expect(page.locator("#copy-status")).to_contain_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == curl
    if shutil.which("curl"):  # the copied command works in a shell, with the key from the environment
        ran = subprocess.run(
            ["bash", "-c", curl],
            check=True,
            env={**os.environ, "DASHSCOPE_API_KEY": key},
            capture_output=True,
            timeout=60,
        )
        made = json.loads(ran.stdout)["output"]
        assert made["task_status"] == "PENDING", ran.stderr
        # Not needed to run: canceled unless the worker took it already (then it just makes a second video).
        httpx.post(f"{server.base_url}/api/v1/tasks/{made['task_id']}/cancel", headers=headers(key), timeout=30)
    assert key not in page.url
    assert page.evaluate("() => Object.values(sessionStorage)") == [key]

    # The history lists it first, with its thumbnail, seed and parameters.
    first_item = page.locator("#history li").first
    sync_api.expect(first_item).to_contain_text("SUCCEEDED")
    sync_api.expect(first_item).to_contain_text(f"Seed {seed}")
    sync_api.expect(first_item).to_contain_text("720P 16:9 · 2 s")
    page.wait_for_function(
        "() => { const i = document.querySelector('#history li img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    screenshot(page, shots, "finished")
    console.assert_clean()


def _states_until_final(page: sync_api.Page) -> list[tuple[str, str]]:
    """Each (status, progress) the page showed, in order, until a final status (bounded by WAIT_MS)."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        state = page.evaluate(
            "() => [document.querySelector('#current-status').textContent,"
            " String(document.querySelector('#current-progress').value)]"
        )
        if not seen or seen[-1] != tuple(state):
            seen.append((state[0], state[1]))
        if state[0] in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"):
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"no final status after {WAIT_MS} ms: {seen}")


def test_refusals_are_shown_next_to_their_field(page: sync_api.Page, server: Server, key: str, shots: Path) -> None:
    console = Console(page)
    creates: list[str] = []
    page.on("request", lambda request: CREATE_PATH in request.url and creates.append(request.url))

    # A bad key: the server's words, next to the key.
    page.goto(server.base_url + "/playground")
    page.get_by_label("API key").fill("sk-not-a-real-key")
    page.get_by_role("button", name="Use key").click()
    sync_api.expect(page.locator("#api-key-error")).to_contain_text("Invalid API-key")

    open_with_key(page, server, key)
    sync_api.expect(page.locator("#api-key-error")).to_be_hidden()

    # An over-long negative prompt: refused by the form, with its count and the limit, and never sent.
    page.get_by_label("Prompt", exact=True).fill("A red kite over green hills")
    page.get_by_label("Negative prompt").fill("n" * 501)
    sync_api.expect(page.locator("#negative-prompt-count")).to_have_text("501 / 500")
    page.get_by_role("button", name="Generate").click()
    error = page.locator("#negative-prompt-error")
    sync_api.expect(error).to_contain_text("501 characters")
    sync_api.expect(error).to_contain_text("limit is 500")
    sync_api.expect(page.get_by_label("Negative prompt")).to_have_attribute("aria-invalid", "true")
    sync_api.expect(page.get_by_label("Negative prompt")).to_be_focused()  # the keyboard lands on the fault
    assert creates == []
    screenshot(page, shots, "refused")

    # The server's own validation: a prompt of blanks, refused in its words next to the prompt.
    page.get_by_label("Negative prompt").fill("")
    page.get_by_label("Prompt", exact=True).fill("   ")
    page.get_by_role("button", name="Generate").click()
    sync_api.expect(page.locator("#prompt-error")).to_contain_text("input.prompt is required")
    assert len(creates) == 1
    console.assert_clean(400, 401)


def test_a_pending_task_is_canceled_and_found_again_after_reload(
    page: sync_api.Page, api_only: Server, shots: Path
) -> None:
    console = Console(page)
    key = api_only.create_key("playground-history")  # its own key: the history holds this test's tasks only
    open_with_key(page, api_only, key)
    page.get_by_label("Prompt", exact=True).fill("A queue that never moves")
    page.get_by_label("Seed").fill("4242")
    page.get_by_label("Watermark").check()
    page.get_by_label("Prompt extension").uncheck()
    page.get_by_role("button", name="Generate").click()
    sync_api.expect(page.locator("#current-status")).to_have_text("PENDING")
    sync_api.expect(page.locator("#current-phase")).to_have_text("Waiting in the queue")
    task_id = page.locator("#current-id").text_content() or ""
    assert task_id

    item = page.locator(f'#history li[data-task-id="{task_id}"]')
    sync_api.expect(item).to_contain_text("PENDING")
    item.get_by_role("button", name=f"Cancel task {task_id}").click()
    sync_api.expect(page.locator(f'#history li[data-task-id="{task_id}"]')).to_contain_text("CANCELED")
    sync_api.expect(page.locator("#current-status")).to_have_text("CANCELED")

    # Five newer tasks push it to the history's second page; a reload keeps the key (session storage).
    for number in range(5):
        body = {"model": "wan2.7-t2v", "input": {"prompt": f"newer {number}"}}
        assert submit(api_only.base_url, key, body).is_success
    page.reload()
    sync_api.expect(page.locator("#page-info")).to_have_text("Page 1 of 2 (6 tasks)")
    sync_api.expect(page.locator("#history li").first).to_contain_text("newer 4")
    page.get_by_role("button", name="Older").click()
    sync_api.expect(page.locator("#page-info")).to_have_text("Page 2 of 2 (6 tasks)")
    found = page.locator(f'#history li[data-task-id="{task_id}"]')
    sync_api.expect(found).to_contain_text("CANCELED")
    sync_api.expect(found).to_contain_text("Seed 4242")
    sync_api.expect(found).to_contain_text("watermark · no prompt extension")
    sync_api.expect(found.get_by_role("button", name=f"Cancel task {task_id}")).to_have_count(0)
    screenshot(page, shots, "history")
    console.assert_clean()


def test_rerun_keeps_the_seed_and_throttling_is_explained(page: sync_api.Page, throttled: Server) -> None:
    console = Console(page)
    open_with_key(page, throttled, throttled.create_key("throttled"))
    page.get_by_label("Prompt", exact=True).fill("The same shot twice")
    page.get_by_label("Seed").fill("7")
    page.get_by_label("Ratio", exact=True).select_option("1:1")
    generate = page.get_by_role("button", name="Generate")
    generate.focus()
    page.keyboard.press("Enter")  # keyboard only, from here on
    sync_api.expect(page.locator("#history li")).to_have_count(1)
    first_id = page.locator("#history li").first.get_attribute("data-task-id")

    page.get_by_role("button", name=f"Re-run task {first_id} as it was made").focus()
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#history li")).to_have_count(2)
    items = page.locator("#history li")
    assert items.nth(1).get_attribute("data-task-id") == first_id  # newest first
    for index in range(2):
        sync_api.expect(items.nth(index)).to_contain_text("Seed 7")
        sync_api.expect(items.nth(index)).to_contain_text("720P 1:1")

    generate.focus()
    page.keyboard.press("Enter")
    error = page.locator("#form-error")
    sync_api.expect(error).to_contain_text("Too many requests")
    sync_api.expect(error).to_contain_text("limit 2")
    sync_api.expect(page.locator("#history li")).to_have_count(2)
    console.assert_clean(429)

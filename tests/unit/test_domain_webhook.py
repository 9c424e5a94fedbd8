from __future__ import annotations

import pytest

from videosynth.domain.errors import InvalidParameter
from videosynth.domain.webhook import MAX_URL_LENGTH, checked_webhook_url


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_means_none(value: str | None) -> None:
    assert checked_webhook_url(value) is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", " https://example.com/h?x=1 "])
def test_http_urls_pass_stripped(url: str) -> None:
    assert checked_webhook_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "must be an http or https URL"),
        ("example.com/hook", "must be an http or https URL"),
        ("http:///nohost", "not a valid URL"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com:0/", "not a valid URL"),
        ("http://exa mple.com/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than"),
    ],
)
def test_malformed_urls_are_invalid_parameter(url: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        checked_webhook_url(url)

"""One signed POST of a Standard Webhooks event: headers webhook-id, webhook-timestamp, webhook-signature.

The destination is checked like a client's input URL (media/fetch.py's address policy): unless private
addresses are allowed, a host resolving to any non-global address is refused, and redirects are never followed
(a 3xx is a failed attempt), so a receiver cannot bounce the request into the deployment's network.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from videosynth.domain.errors import InputDownloadFailed
from videosynth.media.fetch import InputField, refuse_private

_USER_AGENT = "videosynth-webhooks/1"
_FIELD = InputField("webhook URL", "webhook destination")


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"  # worth retrying: the receiver was down, slow or answered non-2xx
    REFUSED = "refused"  # never worth retrying: the destination is not allowed or not an http(s) URL


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    detail: str  # for the outbox's last_error and the CLI; never the URL's query (it may hold a token)


@dataclass(frozen=True)
class Destination:
    url: str
    timeout_s: float
    allow_private: bool


def send_event(destination: Destination, event_id: str, body: bytes, secret: str, now: datetime) -> Attempt:
    """POST ``body`` signed with ``secret``; what came of it."""
    try:
        url = httpx.URL(destination.url)
    except (httpx.InvalidURL, TypeError):
        return Attempt(Outcome.REFUSED, "not a valid URL")
    if url.scheme not in ("http", "https") or not url.host:
        return Attempt(Outcome.REFUSED, "not an http(s) URL")
    if not destination.allow_private:
        try:
            refuse_private(url, _FIELD)
        except InputDownloadFailed as exc:
            return Attempt(Outcome.REFUSED, exc.message)
    return _post(url, destination.timeout_s, _headers(event_id, body, secret, now), body)


def _headers(event_id: str, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    moment = now.astimezone(UTC)
    return {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, moment, body),
    }


def _post(url: httpx.URL, timeout_s: float, headers: dict[str, str], body: bytes) -> Attempt:
    try:
        # trust_env off: an operator's HTTPS_PROXY would hide the address the SSRF check judged.
        with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout_s) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Attempt(Outcome.FAILED, f"{url.host} did not answer within {timeout_s:g} s")
    except httpx.HTTPError:
        return Attempt(Outcome.FAILED, f"could not connect to {url.host}")
    if response.is_success:
        return Attempt(Outcome.DELIVERED, f"HTTP {response.status_code}")
    return Attempt(Outcome.FAILED, f"{url.host} answered HTTP {response.status_code}")

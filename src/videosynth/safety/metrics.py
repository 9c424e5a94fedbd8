"""Prometheus counter of prompt checks by outcome."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

# passed; blocked (blocklist), flagged (moderation); unavailable_allowed / unavailable_refused (endpoint down).
OUTCOMES = ("passed", "blocked", "flagged", "unavailable_allowed", "unavailable_refused")


class SafetyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._checks = Counter(
            "videosynth_prompt_checks", "Prompt safety checks of creates, by outcome.", ["outcome"], registry=registry
        )
        for outcome in OUTCOMES:
            self._checks.labels(outcome)

    def count(self, outcome: str) -> None:
        self._checks.labels(outcome).inc()

"""videosynth: a self-hosted text-to-video service that speaks DashScope's Wan API."""

__version__ = "0.1.0"

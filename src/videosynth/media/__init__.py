"""Frames → watermark → H.264 mp4, probing and checking videos, fetching a client's input files. numpy, Pillow,
PyAV and httpx only; never torch."""

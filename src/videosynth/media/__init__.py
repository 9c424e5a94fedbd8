"""Frames → watermark → H.264 mp4, and probing the result. numpy, Pillow and PyAV only; never torch."""

"""The output size of an image-to-video task: the input image's aspect ratio at the requested resolution tier.

Upstream makes an image-to-video clip "with the aspect ratio of the input image" at about the tier's pixel count
(720P: 1280×720 = 921,600 pixels), as the open Wan code does (``wan/image2video.py``: the latent grid's height is
√(max_area · h/w) rounded down to the grid). Sides are multiples of the model's spatial multiple, so the clip is
generated at that size exactly, and even, as H.264 needs.
"""

from __future__ import annotations

import math

from videosynth.domain.catalog import RATIOS


def image_output_size(image_width: int, image_height: int, tier_pixels: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the image's aspect ratio and at most about ``tier_pixels``, sides multiples of
    ``multiple`` (rounded down, at least one ``multiple``)."""
    if image_width < 1 or image_height < 1 or tier_pixels < 1 or multiple < 1:
        raise ValueError("sizes and the multiple must be positive")
    step = multiple if multiple % 2 == 0 else 2 * multiple  # even sides for yuv420p
    height = math.sqrt(tier_pixels * image_height / image_width)
    width = math.sqrt(tier_pixels * image_width / image_height)
    width_out, height_out = max(step, int(width // step) * step), max(step, int(height // step) * step)
    # A very thin image pins its short side at one step: keep the long side within the tier's pixels then.
    if width_out * height_out > tier_pixels and width_out >= height_out:
        width_out = max(step, tier_pixels // height_out // step * step)
    elif width_out * height_out > tier_pixels:
        height_out = max(step, tier_pixels // width_out // step * step)
    return width_out, height_out


def nearest_ratio(width: int, height: int) -> str:
    """The named ratio ("16:9", …) closest to width:height, for what usage reports as the video's ratio."""

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(width * h / (height * w)))

    return min(RATIOS, key=distance)

"""Attention backend selection: the candidate order per device, the check each must pass, the CPU's choice."""

from __future__ import annotations

import pytest

from videosynth.backends.attention import HOPPER, NATIVE, OTHER_CUDA, candidates, choose, kernel_problem


def test_candidates_are_fastest_first_per_device() -> None:
    assert candidates("cpu", None) == (NATIVE,)
    assert candidates("cuda", (9, 0)) == HOPPER == ("_flash_3", "_native_cudnn", "flash", NATIVE)
    assert candidates("cuda:1", (8, 0)) == OTHER_CUDA
    assert all(not name.endswith("_hub") for name in HOPPER + OTHER_CUDA)  # nothing downloaded at run time


def test_choose_takes_the_first_that_passes_and_records_the_others() -> None:
    problems = {"_flash_3": "RuntimeError: not installed", "_native_cudnn": None}
    choice = choose(HOPPER, problems.__getitem__)
    assert choice.backend == "_native_cudnn"
    assert choice.rejected == {"_flash_3": "RuntimeError: not installed"}
    assert choice.describe() == "_native_cudnn (not _flash_3: RuntimeError: not installed)"
    fallback = choose(("flash",), lambda _name: "differs")
    assert (fallback.backend, fallback.describe()) == (NATIVE, "native (not flash: differs)")


@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_native_passes_its_own_check_on_cpu(dtype_name: str) -> None:
    import torch

    assert kernel_problem(NATIVE, "cpu", getattr(torch, dtype_name)) is None


def test_a_kernel_that_cannot_run_here_is_refused_with_its_reason() -> None:
    import torch

    # cuDNN attention needs a CUDA device: on the CPU it fails, and the reason is kept for the report.
    why = kernel_problem("_native_cudnn", "cpu", torch.float32)
    assert why is not None and why.split(":")[0].endswith(("Error", "Exception"))
    assert kernel_problem("_native_math", "cpu", torch.float32) is None  # another exact kernel matches native

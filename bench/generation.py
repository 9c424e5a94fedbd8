"""Generation benchmark: stock diffusers WanPipeline vs videosynth's backend, full-size random weights.

    python bench/generation.py                      # GPU: Wan2.1-1.3B, Wan2.2-TI2V-5B, Wan2.1-14B (memory allowing)
    python bench/generation.py --tiny --json -      # CPU smoke run of the toy architectures
    videosynth bench generation --help              # the same harness through the CLI

The harness lives in ``videosynth.bench.generation`` so the installed CLI can run it; this file only forwards.
"""

from __future__ import annotations

from videosynth.bench.generation import main

if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# Wheels for the generation benchmark on a lent GPU machine (Python 3.12, torch and most of the stack already
# there; nothing can be fetched there): what bench/generation.py imports that the machine lacks, at the versions
# this project is tested with. Run here, in the repo root; ~35 MB land in .whl/ (git-ignored), which a device run
# carries (see bench/device/run.sh and README: Generation speed).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .whl && mkdir .whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_34_x86_64 --platform any -d .whl \
  diffusers==0.42.1 transformers==5.25.0 huggingface_hub==2.4.0 tokenizers==0.23.3 \
  pydantic==2.14.4 pydantic-settings==2.16.3 ftfy==6.3.1
# What the machine's image already holds (README of the device tool, KINDS.md): carrying a second copy of numpy
# or pillow beside the ones its torch was built with only risks a clash.
for name in numpy pillow certifi charset_normalizer idna requests urllib3 filelock fsspec packaging pyyaml tqdm \
            typing_extensions anyio h11 click rich markdown_it_py mdurl pygments shellingham typer zipp safetensors; do
  rm -f .whl/"$name"-*.whl
done
du -sh .whl

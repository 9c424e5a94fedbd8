"""The generation benchmark harness, shipped in the package so the installed CLI can run it (`videosynth bench`)."""

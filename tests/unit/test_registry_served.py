"""registry/served.py: each public model's rules narrowed to what the entry serving it can make."""

from __future__ import annotations

import tomllib

from videosynth.domain.catalog import PUBLIC_MODELS, ServedLimit
from videosynth.registry import Registry, load_registry, parse_registry, served_models


def _registry(text: str) -> Registry:
    return parse_registry(tomllib.loads(text), "test.toml")


# wan2.7 goes to a 16 fps entry capped at 81 frames (5 s), wan2.6 to a 24 fps one capped at 49 frames (2 s);
# nothing routes the other public names (no default).
_CAPPED = """
[aliases]
"wan2.7-t2v" = "short"
"wan2.6-t2v" = "shorter"
"wan2.2-t2v-plus" = "uncapped"

[models.short]
checkpoint = "/m/short"
max_frames = 81

[models.shorter]
checkpoint = "/m/shorter"
fps = 24
max_frames = 49

[models.uncapped]
checkpoint = "/m/uncapped"
"""


def test_an_entry_with_max_frames_limits_the_durations_it_serves() -> None:
    models = served_models(_registry(_CAPPED))
    assert models["wan2.7-t2v"].limit == ServedLimit(5, "the checkpoint serving it makes at most 81 frames at 16 fps")
    assert models["wan2.7-t2v"].served_durations() == (2, 3, 4, 5)
    assert models["wan2.6-t2v"].limit == ServedLimit(2, "the checkpoint serving it makes at most 49 frames at 24 fps")
    assert models["wan2.6-t2v"].served_durations() == (2,)


def test_uncapped_and_unrouted_models_keep_their_rules() -> None:
    models = served_models(_registry(_CAPPED))
    assert models["wan2.2-t2v-plus"] is PUBLIC_MODELS["wan2.2-t2v-plus"]  # its entry has no max_frames
    assert models["wan2.5-t2v-preview"] is PUBLIC_MODELS["wan2.5-t2v-preview"]  # no entry serves it
    assert set(models) == set(PUBLIC_MODELS)


def test_a_cap_the_model_never_reaches_is_no_limit() -> None:
    registry = _registry('default = "m"\n[models.m]\ncheckpoint = "/m"\nmax_frames = 241\n')  # 15 s at 16 fps
    models = served_models(registry)
    assert models["wan2.7-t2v"] is PUBLIC_MODELS["wan2.7-t2v"]
    # 81 frames (5 s) is no limit for models that make at most 5 s, but is one for wan2.7.
    registry = _registry('default = "m"\n[models.m]\ncheckpoint = "/m"\nmax_frames = 81\n')
    models = served_models(registry)
    assert models["wan2.2-t2v-plus"] is PUBLIC_MODELS["wan2.2-t2v-plus"]
    assert models["wan2.7-t2v"].limit is not None


def test_the_longest_duration_of_an_entry() -> None:
    registry = _registry(_CAPPED)
    assert registry.models["short"].longest_duration == 5
    assert registry.models["shorter"].longest_duration == 2
    assert registry.models["uncapped"].longest_duration is None


def test_the_packaged_registry_limits_nothing() -> None:
    assert served_models(load_registry()) == PUBLIC_MODELS


def test_a_relay_entry_serves_only_the_size_table() -> None:
    relayed = """
[aliases]
"wan2.7-t2v" = "cloud"
[models.cloud]
backend = "relay"
base_url = "https://dashscope.aliyuncs.com"
api_key_env = "DASHSCOPE_API_KEY"
upstream_model = "wan2.7-t2v"
"""
    models = served_models(_registry(relayed))
    assert models["wan2.7-t2v"].table_sizes_only
    assert not models["wan2.6-t2v"].table_sizes_only  # routed nowhere: its rules as they are
    assert not served_models(_registry(_CAPPED))["wan2.7-t2v"].table_sizes_only  # local weights make any size

"""Every field of every registered config: a declared range for numbers, refusal outside it with
a one-line ConfigError naming the field, and a JSON round trip back to an equal config."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from ganad_jax import detectors
from ganad_jax.detectors import (
    FIELD_RANGES,
    ConfigError,
    config_to_dict,
    merge_setting,
    parse_value,
)


def _numeric(hint) -> bool:
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    return hint in (int, float)


CONFIGS = {name: detectors.get(name).config_cls for name in detectors.names()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_numeric_field_has_a_range(name):
    hints = typing.get_type_hints(CONFIGS[name])
    missing = [
        f.name
        for f in dataclasses.fields(CONFIGS[name])
        if _numeric(hints[f.name]) and f.name not in {**FIELD_RANGES, **CONFIGS[name].RANGES}
    ]
    assert missing == []


@pytest.mark.parametrize("name", list(CONFIGS))
def test_values_outside_a_range_are_refused_by_name(name):
    cls = CONFIGS[name]
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        valid = {**FIELD_RANGES, **cls.RANGES}.get(field.name)
        if valid is None or valid.low is None:
            continue
        below = valid.low - (1 if hints[field.name] is not float else 1e-3)
        if typing.get_origin(hints[field.name]) is tuple:
            below = (int(below),)
        elif hints[field.name] is int:
            below = int(below)
        with pytest.raises(ConfigError, match=rf"\.{field.name}(\[.*\])? must be"):
            cls(**{field.name: below})
        if hints[field.name] in (int, float):
            with pytest.raises(ConfigError, match=field.name):
                cls(**{field.name: "text"})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_configs_round_trip_through_json(name):
    cls = CONFIGS[name]
    config = cls(**detectors.get(name).tiny)
    assert cls(**json.loads(json.dumps(config_to_dict(config)))) == config


def _text(value) -> str:
    """A field's value as `--set` writes it."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_field_parses_from_the_command_line_or_is_refused_by_name(name):
    cls = CONFIGS[name]
    config = cls(**detectors.get(name).tiny)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        value = getattr(config, field.name)
        if field.name == "loss_weights":
            weights = {}
            for objective, terms in config.default_loss_weights().items():
                for term, weight in terms.items():
                    key = f"loss_weights.{objective}.{term}"
                    weights = merge_setting(weights, parse_value(cls, key, str(weight)))
            assert weights == config.default_loss_weights()
            spelled_out = cls(**{**detectors.get(name).tiny, "loss_weights": weights})
            assert all(spelled_out.weights(o) == config.weights(o) for o in weights)
        elif typing.get_origin(hints[field.name]) is typing.Union or value is None:
            continue  # an optional field: None is its default, not a command-line value
        elif field.name in ("optimizers", "extra_terms"):
            with pytest.raises(ConfigError, match="Python API"):
                parse_value(cls, field.name, "x")
        else:
            assert parse_value(cls, field.name, _text(value)) == value, field.name

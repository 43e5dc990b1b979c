"""Configuration checking: a JSON schema (draft 2020-12) plus the checks a schema cannot say.

Used by the Snakefile at parse time, so it imports nothing heavy. Errors are one line that
names the offending key and what is allowed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _with_defaults(base):
    """Extend a validator class so that validating also fills in every schema default."""

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    return validators.extend(base, {"properties": set_defaults})


_FillingValidator = _with_defaults(Draft202012Validator)


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def _key(error: ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(extra[0] if extra else "?")
    if error.validator == "required":
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "<top level>"


def _allowed(error: ValidationError) -> str:
    schema = error.schema
    if error.validator == "additionalProperties":
        return "allowed keys here: " + ", ".join(schema.get("properties", {}))
    hints = []
    if "enum" in schema and error.validator != "enum":  # the enum message lists them already
        hints.append("one of " + ", ".join(map(str, schema["enum"])))
    if "type" in schema:
        hints.append(f"type {schema['type']}")
    for word, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"),
                         ("maximum", "<="), ("exclusiveMaximum", "<")):
        if word in schema:
            hints.append(f"{symbol} {schema[word]}")
    return "allowed: " + ", ".join(hints) if hints else ""


def validate_config(config: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``config`` against ``schema`` and the cross-key rules; fill defaults in place."""
    validator = _FillingValidator(schema)
    error = best_match(validator.iter_errors(config))
    if error is not None:
        allowed = _allowed(error)
        raise ConfigError(
            f"config key '{_key(error)}': {error.message}" + (f" ({allowed})" if allowed else "")
        )
    _check_cross_keys(config)
    return config


def _check_cross_keys(config: dict[str, Any]) -> None:
    from .datasets import TOY_DIMS

    data = config["data"]
    for name, spec in data["embedded"].items():
        if name in TOY_DIMS or name == "digits":
            raise ConfigError(f"config key 'data.embedded.{name}': name clashes with a dataset")
        base_dim = TOY_DIMS[spec["base"]]
        if spec["dim"] < base_dim:
            raise ConfigError(
                f"config key 'data.embedded.{name}.dim': {spec['dim']} is smaller than the "
                f"dimension {base_dim} of '{spec['base']}' (allowed: >= {base_dim})"
            )


def dataset_names(config: Mapping[str, Any]) -> list[str]:
    """Every dataset the config asks for, in a stable order."""
    data = config["data"]
    names = list(data["toys"]) + list(data["embedded"])
    return names + (["digits"] if data["digits"] else [])


def dataset_dim(config: Mapping[str, Any], name: str) -> int:
    from .datasets import TOY_DIMS

    if name == "digits":
        return 64
    if name in config["data"]["embedded"]:
        return int(config["data"]["embedded"][name]["dim"])
    return TOY_DIMS[name]

"""Converting option and argument values without pydantic.

Typer 0.2x converts every parameter value through a pydantic ``TypeAdapter`` that it builds the
first time the parameter is processed, even when the option was not given.  Importing pydantic
for that costs about 80 ms, more than the whole rest of a one-patient ``check`` after
``import sqlalchemy``.  The parameter types lungtrack uses (text, flags, whole numbers,
numbers, choices from an enum, paths, and lists and pairs of those) are converted here with
Typer's own helpers (``coerce_cli_choice``, ``coerce_cli_path``) and pydantic's messages, so the
values accepted and the errors shown stay the same; tests/test_number_params.py compares every
parameter of the command tree with Typer's own conversion.  Any other type, and any other
Typer, keeps Typer's conversion (:func:`runtime_param` returns None).
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Union, get_args, get_origin

from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam
from typer._param_types import coerce_cli_choice, coerce_cli_path

_WHOLE = r"[+-]?[0-9]+(?:\.0+)?"
INT_MESSAGE = "Input should be a valid integer, unable to parse string as an integer"
FLOAT_MESSAGE = "Input should be a valid number, unable to parse string as a number"

Convert = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> value


def read_number(kind: type, value: Any, param: Any = None, ctx: Any = None) -> Any:
    """``value`` as ``int`` or ``float`` as pydantic reads well-formed input (``" 3"``, ``"3.0"``,
    ``"1_000"`` for a whole number; ``"1e3"``, ``"inf"`` for a number); otherwise pydantic's message."""
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    if kind is int and isinstance(value, float):
        if not value.is_integer():
            raise BadParameter("Input should be a valid integer, got a number with a fractional part",
                               ctx=ctx, param=param)
        return int(value)
    text = str(value).strip()
    ok = text.isascii() and not text.startswith("_") and not text.endswith("_") and "__" not in text
    text = text.replace("_", "")  # digit grouping, as pydantic allows it
    if kind is int:
        if not (ok and re.fullmatch(_WHOLE, text)):
            raise BadParameter(INT_MESSAGE, ctx=ctx, param=param)
        return int(text.split(".")[0])
    try:
        if not ok:
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise BadParameter(FLOAT_MESSAGE, ctx=ctx, param=param) from None


def read_text(value: Any) -> str:
    """Text as Typer reads it: bytes decoded as the command line's encoding, anything else str()."""
    if isinstance(value, bytes):
        import sys

        for encoding in dict.fromkeys((sys.getfilesystemencoding(), "utf-8")):
            try:
                return value.decode(encoding)
            except UnicodeError:
                continue
        return value.decode("utf-8", "replace")
    return str(value)


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no", ""}


def read_flag(value: Any, param: Any = None, ctx: Any = None) -> bool:
    """A flag's value as pydantic reads it (``yes``/``no``, ``1``/``0``, ``on``/``off`` ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise BadParameter("Input should be a valid boolean, unable to interpret input", ctx=ctx, param=param)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise BadParameter("Input should be a valid boolean", ctx=ctx, param=param)


def _not_optional(annotation: Any) -> Any:
    if get_origin(annotation) is Union:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _leaf(annotation: Any, info: Any) -> Convert | None:
    annotation = _not_optional(annotation)
    if annotation is str:
        return lambda value, param, ctx: read_text(value)
    if annotation is bool:
        return read_flag
    if annotation in (int, float):
        low, high = getattr(info, "min", None), getattr(info, "max", None)
        clamp = bool(getattr(info, "clamp", False))

        def number(value: Any, param: Any, ctx: Any) -> Any:
            n = read_number(annotation, value, param, ctx)
            if low is not None and n < low:
                if clamp:
                    return annotation(low)
                raise BadParameter(f"Input should be greater than or equal to {low}", ctx=ctx, param=param)
            if high is not None and n > high:
                if clamp:
                    return annotation(high)
                raise BadParameter(f"Input should be less than or equal to {high}", ctx=ctx, param=param)
            return n
        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = tuple(annotation)

        def choice(value: Any, param: Any, ctx: Any) -> Any:
            try:
                return coerce_cli_choice(value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx)
            except ValueError as exc:
                raise BadParameter(f"Value error, {exc}", ctx=ctx, param=param) from None
        return choice
    if annotation is Path and getattr(info, "path_type", None) is None:
        def path(value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, str):
                if "\x00" in value:  # what pydantic says of a path it cannot make
                    raise BadParameter("Input is not a valid path", ctx=ctx, param=param)
                value = Path(value)
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        return path
    return None


def converter(annotation: Any, info: Any) -> Convert | None:
    """A conversion for ``annotation`` (None: leave it to Typer)."""
    annotation = _not_optional(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item_type,) = get_args(annotation)
        item = _leaf(item_type, info)
        if item is None:
            return None

        def many(value: Any, param: Any, ctx: Any) -> Any:
            values = value if isinstance(value, (list, tuple)) else [value]
            return [item(v, param, ctx) for v in values]
        return many
    if origin is tuple:
        items = [_leaf(t, info) for t in get_args(annotation)]
        if not items or any(i is None for i in items):
            return None

        def pair(value: Any, param: Any, ctx: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                raise BadParameter("Value error, value is not a valid tuple", ctx=ctx, param=param)
            if len(value) != len(items):
                raise BadParameter(f"Value error, {len(items)} values are required, but {len(value)} given.",
                                   ctx=ctx, param=param)
            return tuple(conv(v, param, ctx) for conv, v in zip(items, value))  # type: ignore[misc]
        return pair
    return _leaf(annotation, info)


class ConvertedParam(RuntimeParam):
    """Typer's ``RuntimeParam`` with our conversion (not a new dataclass: making one costs time
    on every start, ``--help`` included)."""

    convert: Convert

    def __init__(self, annotation: Any, parameter_info: Any, convert: Convert) -> None:
        super().__init__(annotation=annotation, parameter_info=parameter_info)
        object.__setattr__(self, "convert", convert)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        return self.convert(value, param, ctx)


def runtime_param(desc: Any) -> RuntimeParam | None:
    """The conversion of a Typer parameter (its ``type_descriptor``), or None for Typer's own."""
    info = desc.parameter_info
    if desc.file_annotation is not None or getattr(info, "parser", None) is not None \
            or getattr(info, "click_type", None) is not None:
        return None
    convert = converter(desc.annotation, info)
    if convert is None:
        return None
    return ConvertedParam(parameter_info=info, annotation=desc.annotation, convert=convert)

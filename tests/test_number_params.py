"""Whole-number and number options are converted without pydantic (cli/_root.py ``_number_param``):
the values accepted and the messages must be exactly pydantic's, which Typer would otherwise use."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from typer._click.exceptions import BadParameter

from lungtrack.cli._params import read_number

EDGES = ["1_0", "1e3", " 3", "3.0", "+3", "-2", "0x10", "inf", "nan", "1.5e0", "", "３", "1__0", "1.", "3.00", "3.",
         ".5", "-0.0", "3.50", "1_0.0", "+3.0", " 3 ", "\t3", "3_", "_3", "infinity", "-inf", "1e", "1_000.5", "3.5",
         "0", "007", "1 000", "٣", "9223372036854775808"]


def _outcome(convert, value):
    try:
        return "ok", convert(value)
    except BadParameter as exc:
        return "error", exc.message
    except Exception as exc:  # pydantic's ValidationError
        return "error", exc.errors()[0]["msg"]  # type: ignore[attr-defined]


def _same(kind, value):
    ours = _outcome(lambda v: read_number(kind, v), value)
    theirs = _outcome(TypeAdapter(kind).validate_python, value)
    if ours[0] == theirs[0] == "ok" and kind is float and math.isnan(ours[1]):
        return math.isnan(theirs[1])
    return ours == theirs and type(ours[1]) is type(theirs[1])


@pytest.mark.parametrize("kind", [int, float])
@pytest.mark.parametrize("value", EDGES)
def test_edge_values_match_pydantic(kind, value):
    assert _same(kind, value), (kind, value)


def _ours(kind, value):
    return _outcome(lambda v: read_number(kind, v), value)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.sampled_from(["", " ", "\t"]),
       st.sampled_from(["", ".0", ".000"]))
def test_every_written_whole_number_is_read_exactly(n, pad, zeros):
    assert _ours(int, f"{pad}{n}{zeros}{pad}") == ("ok", n)
    assert _ours(int, f"{n:_}") == ("ok", n)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False))
def test_every_written_number_is_read_exactly(x):
    assert _ours(float, repr(x)) == ("ok", x)
    assert _ours(float, f" {x} ") == ("ok", x)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from([int, float]), value=st.text(alphabet="0123456789+-._eE xin\t", max_size=8))
def test_what_is_read_is_what_python_reads(kind, value):
    """Whatever the text, a value read is Python's own reading of the text without digit grouping,
    and a value refused gets pydantic's message."""
    status, got = _ours(kind, value)
    if status == "ok":
        text = value.strip().replace("_", "")
        assert got == (int(text.split(".")[0]) if kind is int else float(text)) or (got != got)
        assert pytest.approx(float(text), nan_ok=True) == float(got)
    else:
        assert got == ("Input should be a valid integer, unable to parse string as an integer" if kind is int
                       else "Input should be a valid number, unable to parse string as a number")


def test_bad_whole_number_option_is_one_line_naming_the_option(cli, demo):
    r = cli("response", "--line", "2.5")
    assert r.code == 2
    assert "--line" in r.stderr and "valid integer" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ every parameter of the tree


def _tree_params():
    import typer.main

    from lungtrack.cli import _root, app

    root = typer.main.get_command(app)
    found = []

    def walk(cmd, path):
        _root._plain_text_params(cmd, ["--help", "-h"])
        for p in getattr(cmd, "params", ()):
            if getattr(p, "type_descriptor", None) is not None:
                found.append((" ".join(path) + " " + p.name, p))
        for name in getattr(cmd, "list_commands", lambda c: [])(None):
            walk(cmd.get_command(None, name), path + [name])

    walk(root, ["lungtrack"])
    return found


PARAMS = _tree_params()


def _samples(annotation, tmp_path):
    import enum
    import typing
    from pathlib import Path

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Union and len(args) == 1:
        return _samples(args[0], tmp_path)
    if origin in (list, tuple):
        leaves = [_samples(a, tmp_path) for a in args]
        return [tuple(vs[i % len(vs)] for vs in leaves) for i in range(4)] + [(), ("x",) * (len(args) + 1)]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [m.value for m in annotation]
        return values + [v.upper() for v in values] + [m for m in annotation][:1] + ["no-such-choice", ""]
    if annotation is Path:
        (tmp_path / "file.txt").write_text("x")
        return [str(tmp_path / "file.txt"), str(tmp_path), str(tmp_path / "missing" / "x.json"), "-", "",
                Path("a/b")]
    if annotation in (int, float):
        return EDGES[:20] + [3, 2.5, "-1", "0", "1", "2", "1000000"]
    if annotation is bool:
        return [True, False, "yes"]
    return ["text", "", "ünïcode", 5]


@pytest.mark.parametrize("name,param", PARAMS, ids=[n for n, _ in PARAMS])
def test_every_parameter_converts_as_typer_does(name, param, tmp_path):
    """For every option and argument of the command tree: what our conversion returns (or
    refuses, and with which message) is what Typer's own pydantic conversion returns."""
    from typer._coercion import build_runtime_param

    ours = param._runtime_param
    if ours is None:  # a type lungtrack leaves to Typer: nothing to compare
        return
    theirs = build_runtime_param(param.type_descriptor)
    for value in _samples(param.type_descriptor.annotation, tmp_path):
        a = _outcome(lambda v: ours.coerce(v, param=param, ctx=None), value)
        b = _outcome(lambda v: theirs.coerce(v, param=param, ctx=None), value)
        if a[0] == b[0] == "ok" and isinstance(a[1], float) and math.isnan(a[1]):
            assert math.isnan(b[1])
            continue
        assert a == b and type(a[1]) is type(b[1]), (name, value, a, b)


def test_the_tree_needs_no_pydantic_conversion():
    """Every parameter of the tree has a conversion of ours (else a command imports pydantic)."""
    missing = [n for n, p in PARAMS if p._runtime_param is None]
    assert missing == []

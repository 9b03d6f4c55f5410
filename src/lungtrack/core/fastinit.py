"""A faster ``__init__`` for the frozen, slotted dataclasses the rules build by the thousand.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)``: a look-up of the name on the class and a tuple of
arguments per field, about 150 ns each.  A history of five years holds a few hundred records
and the rules make a few hundred more, so on ``check --all-patients`` this alone was a tenth of
the CPU.  With ``slots=True`` each field is a slot, whose descriptor can store the value
directly; :func:`fast_init` replaces ``__init__`` by one that does exactly that, and nothing
else changes: same signature and defaults, same ``__post_init__`` call, instances still frozen
(assignment raises ``FrozenInstanceError``), equal, hashable, picklable and
``dataclasses.replace``-able as before.  Reading a slot costs what reading an attribute did.

Only plain dataclasses are accepted: every field in ``__init__``, no ``InitVar``, no
keyword-only field; anything else raises ``TypeError`` when the class is defined.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that stores each field
    through its slot descriptor (see the module docstring).  Returns ``cls``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"fast_init needs a frozen dataclass with slots=True, not {cls.__name__}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if any(not f.init or f.kw_only for f in fields) or len(fields) != len(
        getattr(cls, "__dataclass_fields__", {})
    ):
        raise TypeError(f"fast_init: {cls.__name__} has a field outside the plain positional form")
    ns: dict[str, Any] = {"_HAS_DEFAULT_FACTORY": dataclasses._HAS_DEFAULT_FACTORY}  # type: ignore[attr-defined]
    args: list[str] = []
    body: list[str] = []
    for f in fields:
        setter = f"_set_{f.name}"
        ns[setter] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        if f.default is not _MISSING:
            ns[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
            body.append(f"{setter}(self, {f.name})")
        elif f.default_factory is not _MISSING:
            # as dataclasses does it: a sentinel default, the factory called per instance
            ns[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_HAS_DEFAULT_FACTORY")
            body.append(
                f"{setter}(self, _factory_{f.name}() if {f.name} is _HAS_DEFAULT_FACTORY else {f.name})"
            )
        else:
            args.append(f.name)
            body.append(f"{setter}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    src = f"def __init__(self, {', '.join(args)}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    exec(src, ns)  # noqa: S102 - generated from the field names, as dataclasses does
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    cls.__init__ = init  # type: ignore[method-assign]
    return cls

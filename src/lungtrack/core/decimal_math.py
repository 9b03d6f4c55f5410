"""Exact arithmetic for rule boundaries.

Binary floats make exact thresholds fail: 25.5 -> 30.6 mm is 19.999999999999996 % in floats
and 3.2 -> 8.2 mm is 4.999999999999999 mm, so a rule written with ``>=`` would miss a
progression that the published criteria call PD.  Every boundary comparison in the rules is
therefore done on ``Decimal`` values built from ``repr(float)`` (the shortest decimal that
round-trips), which is exactly the number the person typed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, getcontext, localcontext

HUNDRED = Decimal(100)
ZERO = Decimal(0)


#: ``D()`` of floats already seen (a history repeats the same sizes and values in every rule:
#: about 165 conversions per patient-rule pass, most of them repeats).  Decimals are immutable, so
#: sharing them changes no result.  Zero is left out (``0.0 == -0.0`` but their decimals differ),
#: and so is NaN (never equal to itself).  Bounded: cleared when full.  8,192 entries (about 2 MB):
#: with 65,536 the full cache alone made ``check --all-patients`` on 100,000 patients 13 MB larger
#: than on 1,000 (1.22x, against the 1.2x budget), for no measurable speed.
_FLOAT_DECIMALS: dict[float, Decimal] = {}
_FLOAT_DECIMALS_MAX = 1 << 13


def D(x: float | int | Decimal) -> Decimal:
    """``x`` as the decimal a person would write: ``D(30.6) == Decimal("30.6")``."""
    if type(x) is float:
        d = _FLOAT_DECIMALS.get(x)  # never holds zero or NaN, so a hit is always right
        if d is not None:
            return d
        if x and x == x:
            if len(_FLOAT_DECIMALS) >= _FLOAT_DECIMALS_MAX:
                _FLOAT_DECIMALS.clear()
            d = _FLOAT_DECIMALS[x] = Decimal(repr(x))
            return d
    if isinstance(x, Decimal):
        return x
    if isinstance(x, bool):  # bool is an int subclass; never a size
        raise TypeError("D() takes a number, not a bool")
    if isinstance(x, int):
        return Decimal(x)
    return Decimal(repr(float(x)))


def pct_change(new: Decimal, ref: Decimal) -> Decimal | None:
    """Percentage change from ``ref`` to ``new`` (``None`` when ``ref`` is 0: undefined)."""
    if ref == ZERO:
        return None
    if getcontext().prec == 28:  # already the precision asked for: the same result without a context switch
        return (new - ref) * HUNDRED / ref
    with localcontext() as ctx:
        ctx.prec = 28
        return (new - ref) * HUNDRED / ref


def at_least_pct_increase(new: Decimal, ref: Decimal, pct: Decimal) -> bool:
    """``new`` is at least ``pct`` % above ``ref``, computed without division.

    ``(new - ref) / ref >= pct / 100``  <=>  ``(new - ref) * 100 >= pct * ref`` for ``ref > 0``.
    For ``ref == 0`` any increase is an infinite relative increase, so it counts when
    ``new > 0``.
    """
    if ref == ZERO:
        return new > ZERO
    return (new - ref) * HUNDRED >= pct * ref


def at_least_pct_decrease(new: Decimal, ref: Decimal, pct: Decimal) -> bool:
    """``new`` is at least ``pct`` % below ``ref`` (``ref`` must be > 0 to be meaningful)."""
    if ref <= ZERO:
        return False
    return (ref - new) * HUNDRED >= pct * ref


def to_float(x: Decimal | None, places: int = 4) -> float | None:
    """A Decimal rounded for display/JSON (``None`` stays ``None``)."""
    if x is None:
        return None
    return float(round(x, places))


#: :func:`rounded_float` of the floats already seen (same bounds and exclusions as ``D()``'s cache).
_ROUNDED_FLOATS: dict[float, float] = {}


def rounded_float(x: float) -> float:
    """``to_float(D(x))`` of a float: the number as JSON shows it.  The sizes of a history repeat
    in every rule, so results are remembered; zero (``-0.0`` keeps its sign), NaN and the
    infinities are never stored, so they take the plain path (and raise where it raises)."""
    got = _ROUNDED_FLOATS.get(x)
    if got is not None:
        return got
    got = float(round(D(x), 4))
    if x and x - x == 0:  # finite and not zero
        if len(_ROUNDED_FLOATS) >= _FLOAT_DECIMALS_MAX:
            _ROUNDED_FLOATS.clear()
        _ROUNDED_FLOATS[x] = got
    return got


#: :func:`fmt_mm` of the decimals already written (a history's sizes and sums are written again
#: in every reason and evidence), computed in the default context (28 digits, half-even): equal
#: decimals (``22.5`` and ``22.50``) are written alike, so the value is the key.  Bounded as
#: ``D()``'s cache.
_FMT_MM: dict[Decimal, str] = {}
_CENT = Decimal("0.01")


def fmt_mm(x: float | Decimal) -> str:
    """A size as people write it: 22 -> "22", 22.5 -> "22.5", 2.25 -> "2.25"."""
    d = D(x) if not isinstance(x, Decimal) else x
    ctx = getcontext()
    remembered = ctx.prec == 28 and ctx.rounding == ROUND_HALF_EVEN  # the default context
    if remembered and d.is_finite():
        text = _FMT_MM.get(d)
        if text is not None:
            return text
    q = d.quantize(_CENT).normalize()
    text = format(q, "f")
    text = "0" if text in ("-0", "") else text
    if remembered and q.is_finite():
        if len(_FMT_MM) >= _FLOAT_DECIMALS_MAX:
            _FMT_MM.clear()
        _FMT_MM[d] = text
    return text


def fmt_pct(x: Decimal | float | None) -> str:
    """A signed percentage with at most one decimal: "+20", "-34.8" (``None`` -> "n/a")."""
    if x is None:
        return "n/a"
    d = D(x) if not isinstance(x, Decimal) else x
    q = d.quantize(Decimal("0.1")).normalize()
    text = format(q, "f")
    if text in ("0", "-0"):
        return "0"
    return text if text.startswith("-") else "+" + text

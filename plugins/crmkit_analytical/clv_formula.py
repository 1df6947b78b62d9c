"""The textbook CLV formula with constant margin, retention and discount rate.

    CLV = Σ_{t=1..T} m · r^t / (1+d)^t,   and for T = ∞:  m · r / (1 + d − r)

Known answer: m = 100, r = 0.8, d = 0.1 → 72.73 (T = 1), 266.67 (T = ∞).
Computed with exact decimals, rounded half up to cents.  Every input must be a
finite number; the margin and the result are money, so below 10^14 in size.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from crmkit.plugin import MONEY_LIMIT, ValidationError


def _decimal(value, name: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValidationError(f"{name}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ValidationError(f"{name}: {value!r} is not a finite number")
    return number


def formula_clv(margin, retention, discount, periods: int | None = None) -> Decimal:
    """CLV for margin per period, retention rate r in [0, 1], discount rate d >= 0; ``periods=None`` is ∞."""
    m = _decimal(margin, "margin")
    r = _decimal(retention, "retention")
    d = _decimal(discount, "discount")
    if abs(m) >= MONEY_LIMIT:
        raise ValidationError(f"margin: {margin!r} is out of range (|margin| < 10^14)")
    if not Decimal(0) <= r <= Decimal(1):
        raise ValidationError(f"retention: {r} must be between 0 and 1")
    if d < 0:
        raise ValidationError(f"discount: {d} must be >= 0")
    if periods is None:
        if r >= 1 + d:
            raise ValidationError(f"retention {r} >= 1 + discount {d}: the infinite sum diverges")
        value = m * r / (1 + d - r)
    else:
        if periods < 1:
            raise ValidationError(f"periods: {periods} must be >= 1 (or omitted for infinity)")
        factor = r / (1 + d)
        # the geometric sum in closed form: any number of periods takes the same time
        value = (m * periods if factor == 1
                 else m * factor * (1 - factor ** periods) / (1 - factor))
    if abs(value) >= MONEY_LIMIT:
        raise ValidationError(f"the CLV {value:.3E} is out of range (|CLV| < 10^14): "
                              "lower the margin, the retention or the periods")
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)

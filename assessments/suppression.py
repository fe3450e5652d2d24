"""Small-number suppression for special category data (DOMAIN §6).

Outside the trust, a special category figure (such as ethnicity) is not shown when it would
reveal a count from 1 to 7: its numerator, its denominator, or the rest of the denominator
(45 of 50 from ethnic minority groups says that 5 are not).
"""

from decimal import Decimal

SUPPRESS_FROM, SUPPRESS_TO = 1, 7


def is_small(value) -> bool:
    return value is not None and SUPPRESS_FROM <= Decimal(str(value)) <= SUPPRESS_TO


def reveals_small_count(numerator, denominator) -> bool:
    """Whether the numerator, the denominator or the rest of the denominator is from 1 to 7."""
    rest = Decimal(str(denominator)) - Decimal(str(numerator)) if None not in (numerator, denominator) else None
    return is_small(numerator) or is_small(denominator) or is_small(rest)

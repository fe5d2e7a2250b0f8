"""Reading provider payloads defensively: a value of the wrong shape is unknown (None).

Every record builder reads API fields through these, so a malformed answer (a number where text
belongs, a huge integer, a lone surrogate from a ``\\ud800`` escape) becomes a NULL in the store
instead of an exception, and a record without its identity raises :class:`PayloadError`.
"""

from __future__ import annotations

import math

from ci_profile.core.errors import PayloadError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def text(value: object) -> str | None:
    """Text as stored: strings (lone surrogates replaced: UTF-8 cannot hold them), numbers
    spelled out, anything else unknown."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def integer(value: object, *, maximum: int = INT64_MAX, minimum: int | None = None) -> int | None:
    """A whole number within [minimum, maximum] (default: any int64), digits in a string too."""
    low = -maximum - 1 if minimum is None else minimum
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.strip().isdigit():
        number = int(value)
    elif not isinstance(value, float) or not math.isfinite(value) or not value.is_integer():
        return None
    else:
        number = int(value)
    return number if low <= number <= maximum else None


def ident(value: object, what: str) -> str:
    """The id a record is stored under; a payload without one cannot be stored."""
    found = text(value) if not isinstance(value, float) else None
    if found is None or not found.strip() or len(found) > 200:
        raise PayloadError(f"{what} without a usable id ({type(value).__name__}) in the answer")
    return found

"""How every js_api method answers: ``{ok: true, ...}`` or one plain-language error object.

Shared by ``app.desktop.bridge.Api`` and the review calls it is made of (app.desktop.review_calls),
so both check the page's input and word their failures the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from app.core.errors import KnockoutError, explain


class BridgeError(KnockoutError):
    """What the page sent cannot be used (``code`` "invalid"), or there is nothing to do yet."""

    code = "invalid"


def envelope(method: Callable[..., Mapping[str, object]]) -> Callable[..., dict[str, Any]]:
    """Every answer is JSON-safe; every failure is one plain-language error object, said as
    ``app.core.errors.explain`` says it: a KnockoutError by its code and message, anything else
    as the bug it is (logged under a reference), never as the user's mistake."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> dict[str, Any]:
        try:
            return {"ok": True, **method(self, *args)}
        except Exception as exc:
            return {"ok": False, "error": explain(exc).for_window()}

    return wrapper


def checked_id(value: object) -> str:
    """A photo's id as the page sent it, checked."""
    if not isinstance(value, str) or not value or len(value) > 40:
        raise BridgeError("Expected an image id.")
    return value

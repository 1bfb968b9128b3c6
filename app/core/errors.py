"""One error hierarchy and one way to say what went wrong.

Every error Knockout raises on purpose is a :class:`KnockoutError`: ``code`` is stable for
machines (scripts reading ``--json``, the page), ``message`` is a sentence a person can act
on. :func:`explain` is the one mapping from any exception to what a person reads, used by
the command line, the window's bridge, the picture server and the batch alike. Anything
else is a bug: it is logged with its traceback under a short reference and reported as
unexpected, never dressed up as the user's mistake.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("knockout")


class KnockoutError(Exception):
    """Base of every error Knockout raises on purpose."""

    code = "error"

    def __init__(self, message: str, path: str | None = None, *, code: str | None = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        # the sentence's names and numbers (and a "variant" of the code), for the window to say it
        # in its own language; the English ``message`` stays the fallback and the command line's
        self.params = dict(params or {})
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Explained:
    """What a person reads about a failure: a stable ``code`` and a plain ``message``.
    ``unexpected`` marks a bug (logged under ``reference``), not bad input."""

    code: str
    message: str
    unexpected: bool = False
    reference: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def for_window(self) -> dict[str, Any]:
        """``{code, message, params?}`` as the window shows it: the message as a sentence (``sentence``),
        the params for the page to word it in its language (ui/js/messages.js)."""
        out: dict[str, Any] = {"code": self.code, "message": sentence(self.message)}
        if self.params:
            out["params"] = dict(self.params)
        return out


def sentence(text: str) -> str:
    """``text`` as a sentence on its own (a toast, a dialog): a plain lower-case first word is
    capitalised (never a file name like ``a.jpg``, nor ``iPhone``), and it ends with a full stop.
    Messages are written lower-case to follow ``knockout: `` on the command line; this is the
    one place the window's form is made."""
    text = text.strip()
    first = text.split(maxsplit=1)[0] if text else ""
    if first.isalpha() and first.islower():
        text = text[0].upper() + text[1:]
    return text if not text or text.endswith((".", "!", "?", "…")) else text + "."


def explain(exc: BaseException) -> Explained:
    """The one mapping from an exception to what a person reads (see the module docstring)."""
    if isinstance(exc, KnockoutError):
        params = dict(getattr(exc, "params", None) or {})
        if exc.path and "name" not in params:
            params["name"] = exc.path.replace("\\", "/").rsplit("/", 1)[-1]
        return Explained(exc.code, exc.message, params=params)
    if isinstance(exc, MemoryError):
        return Explained("out_of_memory", "not enough memory for this image; close other programs or try a "
                                          "smaller photo")
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return Explained("io_error", f"could not read or write{where}: {exc.strerror or exc}")
    reference = secrets.token_hex(4)
    log.error("unexpected error [%s]", reference, exc_info=(type(exc), exc, exc.__traceback__))
    return Explained("internal_error", f"unexpected error ({type(exc).__name__}): a bug in Knockout, not a "
                                       f"problem with your file; the log has the details under {reference}",
                     unexpected=True, reference=reference, params={"reference": reference})


class NotFound(KnockoutError):
    """What was asked for is not there (any more): a photo removed from the list, a tile past the edge."""

    code = "not-found"


class NotReady(KnockoutError):
    """What was asked for is not finished yet (the page asked for a mask or an edit too early)."""

    code = "not-ready"

    @classmethod
    def cutout(cls, name: str) -> NotReady:
        return cls(f"{name} is not cut out yet: wait for it to finish", name)


class ImageError(KnockoutError):
    """A photo that cannot be read or written; ``path`` names it."""

    code = "image_error"


class Unreadable(ImageError):
    code = "unreadable"


class EmptyFile(ImageError):
    code = "empty_file"


class NotAnImage(ImageError):
    code = "not_an_image"


class CorruptImage(ImageError):
    code = "corrupt"


class TooLarge(ImageError):
    code = "too_large"


class UnsupportedImage(ImageError):
    code = "unsupported"


class OutputError(ImageError):
    """The result could not be written (permissions, disk full, would overwrite a source)."""

    code = "output_error"


class TooLargeForFormat(OutputError):
    """The result is larger than the chosen file format can hold (WebP stops at 16383 px a side)."""

    code = "too_large_for_format"

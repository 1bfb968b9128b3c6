"""Typed errors for bad input, each with a message a person can act on."""

from __future__ import annotations


class ImageError(Exception):
    """Base class: ``code`` is stable for machines, ``str(err)`` is for people."""

    code = "image_error"

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message


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

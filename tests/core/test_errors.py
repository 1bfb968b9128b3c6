"""The one error hierarchy and the one mapping from exceptions to what a person reads."""

import errno
import logging

import pytest

from app.core.errors import CorruptImage, Explained, ImageError, KnockoutError, OutputError, explain, sentence


def test_every_image_error_is_a_knockout_error_with_a_code_and_a_message():
    exc = CorruptImage("the file is damaged", "a.jpg")
    assert isinstance(exc, ImageError) and isinstance(exc, KnockoutError)
    assert explain(exc) == Explained("corrupt", "the file is damaged")
    assert exc.path == "a.jpg" and str(exc) == "the file is damaged"


def test_a_code_can_be_given_per_error_without_a_subclass():
    assert explain(KnockoutError("that preset is locked", code="locked")).code == "locked"
    assert OutputError("disk full").code == "output_error"


def test_memory_and_file_system_errors_read_as_such():
    assert explain(MemoryError()).code == "out_of_memory"
    io = explain(OSError(errno.ENOSPC, "No space left on device", "/out/a.png"))
    assert io == Explained("io_error", "could not read or write /out/a.png: No space left on device")


def test_a_bug_is_reported_as_unexpected_with_a_log_reference_never_as_a_user_mistake(caplog):
    with caplog.at_level(logging.ERROR, logger="knockout"):
        try:
            {}["missing"]
        except KeyError as exc:
            explained = explain(exc)
    assert explained.unexpected and explained.code == "internal_error"
    assert "KeyError" in explained.message and "not a problem with your file" in explained.message
    assert explained.reference and explained.reference in explained.message
    (record,) = caplog.records
    assert explained.reference in record.getMessage() and record.exc_info is not None


@pytest.mark.parametrize("exc", [ValueError("x"), TypeError("y"), RuntimeError("z")])
def test_plain_python_errors_are_bugs_not_bad_input(exc):
    assert explain(exc).unexpected


def _exception_classes_defined_in_app() -> dict[str, type[BaseException]]:
    import importlib
    import inspect
    import pkgutil

    import app

    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if info.name == "app.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


# Errors that are not Knockout's to explain: the socket layer needs a PermissionError, and the
# command line's usage error is argparse's business.
# OSErrors on purpose: the socket layer (NetworkBlocked) and whoever writes a private file (RefusedFile:
# the audit log, the journal) catch them as such.
NOT_KNOCKOUT_ERRORS = {"app.governance.netguard.NetworkBlocked", "app.core.private.RefusedFile"}


def test_every_error_knockout_raises_on_purpose_is_a_knockout_error_with_a_stable_code():
    classes = _exception_classes_defined_in_app()
    assert "app.inference.session.ModelMissing" in classes  # the walk found the package's modules
    strays = sorted(name for name, cls in classes.items()
                    if name not in NOT_KNOCKOUT_ERRORS and not issubclass(cls, KnockoutError))
    assert strays == []
    generic = sorted(name for name, cls in classes.items()
                     if cls is not KnockoutError and getattr(cls, "code", None) == KnockoutError.code)
    assert generic == []  # each says what kind of failure it is


@pytest.mark.parametrize("text, shown", [
    ("could not read or write /out/a.png: disk full", "Could not read or write /out/a.png: disk full."),
    ("That image is no longer in the list.", "That image is no longer in the list."),
    ("a.jpg is not cut out yet: wait for it to finish", "a.jpg is not cut out yet: wait for it to finish."),
    ("iPhone photos need HEIC support", "iPhone photos need HEIC support."),
])
def test_the_window_shows_a_sentence_without_renaming_files(text, shown):
    assert sentence(text) == shown
    assert Explained("x", text).for_window() == {"code": "x", "message": shown}

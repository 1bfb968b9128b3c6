"""Frozen entry point of the windowed executable ``knockout-app`` (the .desktop file's ``%F``).

A windowed build has no console (``sys.stdout`` is None on Windows and macOS): stray
prints and tracebacks go to ``knockout-app.log`` in the user log directory
(``app.paths.user_log_dir()``), never beside the executable; ``app.desktop.window`` adds its own
logging handler to the same file. If the window module is missing the build explains
that instead of failing with a traceback.
"""

from __future__ import annotations

import sys

from app import paths

EXIT_NO_WINDOW = 3


def _console_to_log() -> None:
    if sys.stdout is not None and sys.stderr is not None:
        return
    try:
        folder = paths.user_log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stream = open(folder / "knockout-app.log", "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    except OSError:
        return
    sys.stdout = sys.stdout or stream
    sys.stderr = sys.stderr or stream


def main() -> int:
    _console_to_log()
    try:
        from app.desktop.window import main as window_main
    except ModuleNotFoundError as exc:
        if exc.name != "app.desktop.window":
            raise
        print("knockout-app: this build has no desktop window (app/desktop/window.py is missing); "
              "use the `knockout` command line.", file=sys.stderr)
        return EXIT_NO_WINDOW
    return int(window_main(sys.argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""PyInstaller runtime hook (both executables): environment the GUI toolkits read at start.

* qtpy is pinned to PySide6 (LGPL-3.0), the only Qt binding in the Linux bundle (it would
  probe others; PyQt6 is GPL-3.0-only and never bundled).
* Windows: when the build carries the WebView2 Fixed Version runtime in ``_internal/webview2``
  (MSI built with WebView2Fixed=yes, for machines without the Evergreen runtime), point
  WebView2 at it; nothing is downloaded.
"""

import os
import sys

os.environ.setdefault("QT_API", "pyside6")
_fixed = os.path.join(getattr(sys, "_MEIPASS", ""), "webview2")
if sys.platform == "win32" and os.path.isdir(_fixed):
    os.environ.setdefault("WEBVIEW2_BROWSER_EXECUTABLE_FOLDER", _fixed)

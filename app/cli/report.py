"""What a batch prints: a progress bar on a terminal, a line per failure or note, the summary."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from app.governance import netguard

# 0 every file done (written or skipped), 1 some files failed (the rest were written),
# 2 usage error, 3 the machine policy is broken: see app/cli/__init__.py.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_POLICY = 0, 1, 2, 3


class Reporter:
    """Progress bar (on a terminal), failure lines and the closing summary, all on stderr."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.quiet = quiet
        self.bar: Any = None

    def start(self, provider: str, model: str) -> None:
        if self.quiet:
            return
        offline = " · offline" if netguard.is_installed() else ""
        print(f"knockout: {self.total} image{'s' if self.total != 1 else ''} · model {model} · {provider}{offline}",
              file=sys.stderr)
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit="img", file=sys.stderr, dynamic_ncols=True)

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def status(self, text: str) -> None:
        """A short live note after the counts and ETA (a cluster's per-node throughput): the bar's
        tail on a terminal; elsewhere nothing, the closing summary says it."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def report(self, result: Any, counted: bool = True) -> None:
        if result.status == "failed":
            self._write(f"FAILED {result.label}: {result.message}")
        elif result.status == "skipped" and result.code:  # refused unread (app.batch.inputs.refusal): say why
            self._write(f"skipped {result.label}: {result.message}")
        elif not self.quiet and result.warnings:
            self._write(f"note   {result.label}: {'; '.join(result.warnings)}")
        if counted and self.bar is not None:
            self.bar.update(1)

    def close(self, results: list[Any], elapsed: float, out_dir: Path) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.quiet:
            return
        counts = Counter(r.status for r in results)
        written = counts["written"]
        rate = f", {elapsed / written:.2f} s/image" if written else ""
        print(f"knockout: {written} written, {counts['skipped']} skipped, {counts['failed']} failed "
              f"in {elapsed:.1f} s{rate} → {out_dir}", file=sys.stderr)
        if review := flagged_summary(results):
            print(f"knockout: {review}", file=sys.stderr)


REVIEW_NAMES = 10  # flagged files named in the summary; --json has them all


def flagged_summary(results: list[Any]) -> str | None:
    """'3 flagged for review: a.jpg (halo), …' for the files with QA flags (app.core.qa), or None."""
    flagged = [r for r in results if getattr(r, "flags", None)]
    if not flagged:
        return None
    names = [f"{r.label} ({', '.join(f['code'] for f in r.flags)})" for r in flagged[:REVIEW_NAMES]]
    more = f" and {len(flagged) - REVIEW_NAMES} more" if len(flagged) > REVIEW_NAMES else ""
    return f"{len(flagged)} flagged for review: {', '.join(names)}{more} (reasons: --json)"

"""Per-node throughput of a cluster batch: what the progress line shows and the closing summary.

The counts and the ETA are the local batch's (app.cli.report.Reporter, one tick per file);
this adds where the files were done and how fast each machine went, from the chunks the
driver collects (app.batch.cluster_node.ChunkDone).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NodeTally:
    """One machine's share of the batch so far."""

    label: str  # "host [node id]": several nodes may share a host name (and one machine may run two)
    written: int = 0
    failed: int = 0
    busy: float = 0.0  # seconds its workers spent on chunks (summed over its workers)
    workers: int = 1

    @property
    def done(self) -> int:
        return self.written + self.failed

    def per_minute(self) -> float:
        """Photos per minute while its workers were busy, per node (all its workers together)."""
        return 60.0 * self.done * self.workers / self.busy if self.busy > 0 else 0.0


@dataclass
class Tallies:
    """The tallies of every node that did (or will do) work, by Ray node id."""

    nodes: dict[str, NodeTally] = field(default_factory=dict)

    def add_node(self, node: str, label: str, workers: int = 1) -> None:
        self.nodes.setdefault(node, NodeTally(label, workers=workers))

    def count(self, node: str, label: str, statuses: list[str], seconds: float) -> None:
        """A chunk came back from ``node``: its files' statuses and how long the worker spent on it."""
        tally = self.nodes.setdefault(node, NodeTally(label))
        tally.written += statuses.count("written")
        tally.failed += statuses.count("failed")
        tally.busy += seconds

    def progress(self) -> str:
        """Short enough for a progress bar's tail: "host-a 41/min · host-b 38/min"."""
        return " · ".join(f"{t.label} {t.per_minute():.0f}/min" for t in self.nodes.values() if t.done)

    def summary(self) -> list[str]:
        """A line per node, busiest first; a node that did nothing says so (it may be down or full)."""
        lines = []
        for tally in sorted(self.nodes.values(), key=lambda t: (-t.done, t.label)):
            if not tally.done:
                lines.append(f"node {tally.label}: no files")
                continue
            lines.append(f"node {tally.label}: {tally.written} written, {tally.failed} failed, "
                         f"{tally.per_minute():.1f} photos/min ({tally.busy:.1f} s busy, "
                         f"{tally.workers} worker{'s' if tally.workers != 1 else ''})")
        return lines

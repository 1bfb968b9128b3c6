"""``--cluster ADDRESS`` for ``cut`` and ``watch``: the same batch, its photos cut on a Ray cluster.

Only where the work runs changes (app.batch.cluster.ClusterBatch stands in for run_batch);
this module adds the option, builds the runner, and prints the per-node lines.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.report import Reporter


def add_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="cut on a Ray cluster (host:port of its head, e.g. 10.0.0.5:6379, or auto for "
                        "RAY_ADDRESS); inputs and the output folder must be on a drive every node mounts "
                        "at the same path. Needs the cluster extra; see docs/cluster.md")


def runner_for(args: argparse.Namespace, engine: Any) -> Any:
    """The cluster runner ``--cluster`` asks for (not yet connected), or None for a local batch."""
    if not args.cluster:
        return None
    from app.batch.cluster import ClusterBatch

    return ClusterBatch(args.cluster, args.output, engine.spec, device=args.device)


def follow(runner: Any, reporter: Reporter) -> None:
    """Each node's throughput after the counts and ETA, as chunks come back."""
    runner.on_progress = lambda tallies: reporter.status(tallies.progress())


def node_summary(runner: Any, quiet: bool) -> None:
    if runner is None or quiet:
        return
    for line in runner.tallies.summary():
        print(f"knockout: {line}", file=sys.stderr)


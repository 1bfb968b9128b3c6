"""``knockout eval``: benchmark background removers on your own images with ground-truth masks.

``pairs`` matches photos to masks, ``command`` runs the models and scores them with
:mod:`app.core.metrics`, ``report`` draws the self-contained HTML report.
"""

from app.evaluation.command import add_parser, run

__all__ = ["add_parser", "run"]

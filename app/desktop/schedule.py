"""Which cutout work the window's one worker does next.

Each photo needs a quick first look (``quick``, app.inference.preview) and then its full
answer (``refine``), or only the full answer (``full``: the hot folder's photos, whom nobody
looks at, and models without a quick pass). The order is chosen when the worker is free,
not when a photo is queued, because what matters changes meanwhile:

1. the photo the person is looking at (``focus``) first: its first look, then its full answer;
2. then first looks of the next photos, but at most ``lookahead`` of them waiting for their
   full answer, so clicking to the next photo shows something at once while the full answers
   keep coming in the order the photos were opened (and a batch of 300 never holds 300
   decoded photos for later);
3. then the oldest photo's full answer.

Pure bookkeeping under the job runner's lock; the runner does the work.
"""

from __future__ import annotations

from dataclasses import dataclass

LOOKAHEAD = 2
QUICK, REFINE, FULL = "quick", "refine", "full"


@dataclass(frozen=True)
class Unit:
    seq: int  # when the photo was queued: earlier first, and what ``due_before`` compares
    kind: str


class Schedule:
    def __init__(self, lookahead: int = LOOKAHEAD) -> None:
        self.lookahead = lookahead
        self.focus: str | None = None
        self._units: dict[str, Unit] = {}

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._units

    def __len__(self) -> int:
        return len(self._units)

    def put(self, doc_id: str, seq: int, kind: str) -> None:
        """The photo's next piece of work (replacing any it had)."""
        self._units[doc_id] = Unit(seq, kind)

    def refine(self, doc_id: str) -> None:
        """Its first look is shown: the full answer is what it needs now, in its original place."""
        unit = self._units.get(doc_id)
        self._units[doc_id] = Unit(unit.seq if unit else 0, REFINE)

    def take(self, doc_id: str) -> Unit | None:
        """Remove and return the photo's pending work (it starts now, or is cancelled)."""
        return self._units.pop(doc_id, None)

    def pick(self) -> tuple[str, Unit] | None:
        """The work to do next (see the module's docstring), removed from the schedule."""
        if not self._units:
            return None
        chosen = self.focus if self.focus in self._units else None
        if chosen is None:
            ordered = sorted(self._units.items(), key=lambda pair: pair[1].seq)
            waiting = sum(1 for _, unit in ordered if unit.kind == REFINE)
            quick = next((doc_id for doc_id, unit in ordered if unit.kind == QUICK), None)
            full = next((doc_id for doc_id, unit in ordered if unit.kind != QUICK), None)
            chosen = quick if quick is not None and (waiting < self.lookahead or full is None) else full
        assert chosen is not None
        return chosen, self._units.pop(chosen)

    def due_before(self, seq: int) -> str | None:
        """A photo queued before ``seq`` that still has work (``wait_idle`` and exports finish it first)."""
        return next((doc_id for doc_id, unit in self._units.items() if unit.seq < seq), None)

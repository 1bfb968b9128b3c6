"""bench/fuzz_decode_export.py in miniature: seeded mutations of every supported format through
decode → render → save give typed errors or a file, never a raw exception."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
fuzz = load_script("knockout_fuzz_decode_export", ROOT / "bench" / "fuzz_decode_export.py")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on the damaged metadata


def test_mutated_files_give_typed_errors_only(tmp_path: Path) -> None:
    seeds = fuzz.build_seeds()
    outcomes: Counter[str] = Counter()
    untyped = []
    for index in range(300):
        mutant = fuzz.mutate(seeds, index, seed=1)
        outcome = fuzz.check(mutant.data, mutant.name, tmp_path, variant=index)
        outcomes[outcome.kind] += 1
        if outcome.kind == "untyped":
            untyped.append(f"{mutant.name}: {outcome.detail} at {outcome.stage}\n{outcome.trace}")

    assert not untyped, "\n".join(untyped[:3])
    assert outcomes["ok"] > 30 and outcomes["typed"] > 30  # the mutations reach both ends


def test_mutations_are_reproducible() -> None:
    seeds = fuzz.build_seeds()
    assert fuzz.mutate(seeds, 42, seed=3) == fuzz.mutate(seeds, 42, seed=3)
    assert fuzz.mutate(seeds, 42, seed=3).data != fuzz.mutate(seeds, 43, seed=3).data

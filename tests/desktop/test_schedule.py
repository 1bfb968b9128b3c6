"""Which photo's work the window's worker does next."""

from app.desktop.schedule import FULL, QUICK, REFINE, Schedule


def _order(schedule, after=None):
    """Pick until empty; ``after(doc_id, kind)`` may change the schedule as the runner would."""
    done = []
    while (picked := schedule.pick()) is not None:
        doc_id, unit = picked
        done.append((doc_id, unit.kind))
        if after:
            after(doc_id, unit.kind)
    return done


def _refine_after_quick(schedule):
    def after(doc_id, kind):
        if kind == QUICK:
            schedule.refine(doc_id)
    return after


def test_first_looks_run_ahead_of_full_answers_by_at_most_the_lookahead():
    schedule = Schedule(lookahead=2)
    for seq, doc_id in enumerate(["a", "b", "c", "d"]):
        schedule.put(doc_id, seq, QUICK)
    assert _order(schedule, _refine_after_quick(schedule)) == [
        ("a", QUICK), ("b", QUICK), ("a", REFINE), ("c", QUICK), ("b", REFINE), ("d", QUICK),
        ("c", REFINE), ("d", REFINE)]


def test_the_photo_in_focus_gets_its_first_look_and_full_answer_before_the_others():
    schedule = Schedule(lookahead=2)
    for seq, doc_id in enumerate(["a", "b", "c"]):
        schedule.put(doc_id, seq, QUICK)
    schedule.focus = "c"
    order = _order(schedule, _refine_after_quick(schedule))
    assert order[:2] == [("c", QUICK), ("c", REFINE)]
    assert order[2:] == [("a", QUICK), ("b", QUICK), ("a", REFINE), ("b", REFINE)]


def test_full_only_photos_keep_their_place_in_the_queue():
    schedule = Schedule(lookahead=1)
    schedule.put("hot", 0, FULL)
    schedule.put("a", 1, QUICK)
    schedule.put("b", 2, QUICK)
    assert _order(schedule, _refine_after_quick(schedule)) == [
        ("a", QUICK), ("hot", FULL), ("a", REFINE), ("b", QUICK), ("b", REFINE)]


def test_taken_work_is_gone_and_due_before_names_only_older_photos():
    schedule = Schedule()
    schedule.put("a", 5, QUICK)
    schedule.put("b", 9, QUICK)
    assert schedule.due_before(5) is None and schedule.due_before(6) == "a"
    assert schedule.take("a").kind == QUICK and "a" not in schedule and schedule.take("a") is None
    assert schedule.due_before(100) == "b" and len(schedule) == 1

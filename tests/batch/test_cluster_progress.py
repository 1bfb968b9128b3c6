"""Per-node throughput: the progress bar's tail and the closing lines."""

from app.batch.cluster_progress import Tallies


def test_each_node_gets_its_photos_per_minute_from_its_busy_time():
    tallies = Tallies()
    tallies.add_node("n1", "studio-1 [n1]")
    tallies.add_node("n2", "studio-2 [n2]")
    tallies.count("n1", "studio-1 [n1]", ["written", "written", "failed"], 6.0)
    tallies.count("n1", "studio-1 [n1]", ["written"], 2.0)
    tallies.count("n2", "studio-2 [n2]", ["written", "written"], 12.0)
    assert tallies.progress() == "studio-1 [n1] 30/min · studio-2 [n2] 10/min"
    assert tallies.summary() == [
        "node studio-1 [n1]: 3 written, 1 failed, 30.0 photos/min (8.0 s busy, 1 worker)",
        "node studio-2 [n2]: 2 written, 0 failed, 10.0 photos/min (12.0 s busy, 1 worker)",
    ]


def test_a_node_that_did_nothing_is_named_in_the_summary_and_left_out_of_progress():
    tallies = Tallies()
    tallies.add_node("n1", "studio-1 [n1]")
    tallies.add_node("n2", "studio-2 [n2]")
    tallies.count("n1", "studio-1 [n1]", ["written"], 1.0)
    assert tallies.progress() == "studio-1 [n1] 60/min"
    assert tallies.summary()[-1] == "node studio-2 [n2]: no files"


def test_a_chunk_from_a_node_not_seen_at_the_start_is_still_counted():
    tallies = Tallies()
    tallies.count("n9", "late [n9]", ["written"], 3.0)
    assert tallies.summary() == ["node late [n9]: 1 written, 0 failed, 20.0 photos/min (3.0 s busy, 1 worker)"]

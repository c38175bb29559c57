"""One JSONL module, one torn-line rule: a torn line is skipped, the next append starts clean."""
from mastune.jsonl import JsonlFile, ResultsFile, append_jsonl, read_jsonl, write_jsonl


def test_a_torn_line_is_skipped_and_the_next_record_starts_clean(tmp_path):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"iteration": 0})
    with open(path, "a") as f:
        f.write('{"iteration": 1, "lo')  # a kill mid-write
    append_jsonl(path, {"iteration": 2})  # the resume appends after it
    assert read_jsonl(path) == [{"iteration": 0}, {"iteration": 2}]  # nothing after the torn line is lost
    write_jsonl(path, [{"iteration": 0}])
    assert path.read_text() == '{"iteration": 0}\n' and not (tmp_path / "log.jsonl.tmp").exists()


def test_latest_record_of_an_id_wins(tmp_path):
    f = ResultsFile(tmp_path / "results.jsonl")
    f.append({"id": "a", "status": "error"})
    f.append({"id": "b", "status": "ok"})
    f.append({"id": "a", "status": "ok"})
    assert {k: v["status"] for k, v in f.latest().items()} == {"a": "ok", "b": "ok"}
    assert issubclass(ResultsFile, JsonlFile) and read_jsonl(tmp_path / "missing.jsonl") == []
    with open(f.path, "a") as out:
        out.write("[1, 2]\n{\"no_id\": 1}\n")  # not records of an item
    assert len(f.latest()) == 2 and f.bad_lines == 2

from pathlib import Path

import pytest
from django.core.management import call_command

from prompts.linter.benchmark import (
    TARGET_BASIC_WARNINGS,
    TARGET_RECALL,
    benchmark_format,
    benchmark_run,
)

PARTIPROMPTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "partiprompts.tsv"

SAMPLE = """Prompt\tCategory\tChallenge\tNote
a fox\tAnimals\tBasic\t
a cat\tAnimals\tBasic\t
ten red apples\tProduce\tQuantity\t
an owl family\tAnimals\tQuantity\t
a sign that says "Very Deep Learning"\tArts\tWriting & Symbols\t
the word 'START'\tArts\tWriting & Symbols\t
a red cube on top of a blue cube\tArts\tProperties & Positioning\t
a green heart with shadow\tArts\tProperties & Positioning\t
a street without vehicles\tOutdoor Scenes\tSimple Detail\tNegation
"""


@pytest.fixture
def sample_tsv(tmp_path):
    path = tmp_path / "sample.tsv"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_subsets_are_chosen_by_the_benchmark_rules(sample_tsv, catalog):
    result = benchmark_run(sample_tsv, catalog=catalog)
    assert result["prompts"] == 9
    # "an owl family" names no count, "the word 'START'" quotes one word and "a green
    # heart with shadow" has no relation word: those rows are not in the subsets.
    assert {name: entry["rows"] for name, entry in result["recalls"].items()} == {
        "counting": 1,
        "text_rendering": 1,
        "spatial_relation": 1,
        "negation": 1,
    }
    assert all(entry["recall"] == 1.0 for entry in result["recalls"].values())
    assert result["basic_warnings"] == {"rows": 2, "warned": 0, "share": 0.0, "examples": []}
    assert result["challenges"]["Basic"]["shares"]["vague"] == 1.0
    assert result["challenges"]["Quantity"]["shares"]["counting"] == 0.5


def test_format_prints_the_table_and_the_scores(sample_tsv, catalog):
    text = benchmark_format(benchmark_run(sample_tsv, catalog=catalog))
    assert "Share of prompts drawing each code, per Challenge:" in text
    assert "recall of counting" in text
    assert "Basic rows with a warning" in text
    assert "median ms to lint one prompt" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert lines["vague"].split()[1] == "1.00"  # Basic is the first column


def test_command_prints_the_report(sample_tsv, capsys):
    call_command("lint_benchmark", str(sample_tsv), "--from-files")
    out = capsys.readouterr().out
    assert "recall of negation" in out


def test_command_rejects_a_missing_file(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("lint_benchmark", str(tmp_path / "nope.tsv"), "--from-files")


@pytest.mark.slow
@pytest.mark.skipif(not PARTIPROMPTS.is_file(), reason=f"{PARTIPROMPTS} is absent")
def test_partiprompts_targets(catalog):
    result = benchmark_run(PARTIPROMPTS, catalog=catalog)
    for name, entry in result["recalls"].items():
        assert entry["rows"] >= 10, name
        assert entry["recall"] >= TARGET_RECALL, (name, entry["missed"])
    assert result["basic_warnings"]["share"] <= TARGET_BASIC_WARNINGS, result["basic_warnings"]

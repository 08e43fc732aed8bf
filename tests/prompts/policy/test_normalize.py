import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompts.policy import normalize
from prompts.policy.normalize import normalize_tokens, spellings, squeeze

POLICY_DIR = Path(__file__).resolve().parents[3] / "prompts" / "policy"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OBAMA", "obama"),
        ("Ōbama", "obama"),  # precomposed macron
        ("O\u0304bama", "obama"),  # decomposed: O + combining macron
        ("Beyoncé Björk", "beyonce bjork"),
        ("Straße Øresund Łódź", "strasse oresund lodz"),
        ("ＧＯＲＥ", "gore"),  # fullwidth
        ("𝐠𝐨𝐫𝐞", "gore"),  # mathematical bold
        ("Оbаmа", "obama"),  # Cyrillic О, а, а
        ("РОЕТ", "poet"),  # Cyrillic capitals
        ("Ob\u200bam\u200da", "obama"),  # zero-width space and joiner
        ("Ob\u00adama\ufeff", "obama"),  # soft hyphen, BOM
    ],
)
def test_folds_case_accents_homoglyphs_and_invisible_characters(text, expected):
    assert normalize(text)[0] == expected


@pytest.mark.parametrize(
    "text", ["O b a m a", "o.b.a.m.a", "o-b-a-m-a", "o_b_a_m_a", "O . B . A . M . A", "o/b/a/m/a"]
)
def test_spelled_out_letters_become_one_token(text):
    tokens = normalize_tokens(text).tokens
    assert [t.text for t in tokens] == ["obama"]
    assert tokens[0].collapsed


def test_initials_collapse_the_same_way_however_written():
    for text in ("J. K. Rowling", "J.K. Rowling", "JK Rowling"):
        assert normalize(text)[0] == "jk rowling"


def test_an_apostrophe_keeps_a_letter_with_its_word():
    # "s" belongs to "it"; only "a" and the spelled-out word could merge.
    assert [t.text for t in normalize_tokens("it's a cat").tokens] == ["it", "s", "a", "cat"]


def test_separators_are_kept_as_one_character_each():
    assert normalize("Tiger,  Woods -- the (golfer)")[0] == "tiger,woods the,golfer"
    assert normalize("blood-bath")[0] == "blood-bath"
    assert normalize("O'Neal")[0] == "o'neal"


def test_index_map_points_back_to_the_original_characters():
    text = "Hi  Ōbama\u200b's"
    normalized, index_map = normalize(text)
    assert len(index_map) == len(normalized)
    start = normalized.index("obama")
    assert text[index_map[start] : index_map[start + 4] + 1] == "Ōbama"


def test_leet_readings_include_the_plausible_letters():
    raws = {s.raw for s in spellings("h1tl3r")}
    assert {"hitler", "hltler"} <= raws
    assert "obama" in {s.raw for s in spellings("0bama")}
    assert "kill" in {s.raw for s in spellings("k!ll")}


def test_edge_symbols_are_dropped_and_remembered():
    reading = next(s for s in spellings("gore!!") if s.raw == "gore")
    assert (reading.lead, reading.trail) == (0, 2)


def test_numbers_are_not_read_as_letters():
    assert [s.raw for s in spellings("1987")] == ["1987"]


def test_a_spelled_out_article_can_be_dropped():
    assert "gore" in {s.raw for s in spellings("agore", True)}
    assert "gore" not in {s.raw for s in spellings("agore", False)}


def test_squeeze_collapses_repeated_characters():
    assert squeeze("gooore") == ("gore", (1, 3, 1, 1))
    assert squeeze("") == ("", ())


@given(st.text(max_size=60))
def test_normalising_twice_changes_nothing(text):
    once, _ = normalize(text)
    assert normalize(once)[0] == once


@given(st.text(max_size=60))
def test_index_map_is_increasing_and_in_range(text):
    normalized, index_map = normalize(text)
    assert len(index_map) == len(normalized)
    assert all(0 <= i < len(text) for i in index_map)
    assert index_map == sorted(index_map)


@pytest.mark.parametrize("module", ["normalize.py", "matcher.py"])
def test_policy_text_code_does_not_import_django(module):
    tree = ast.parse((POLICY_DIR / module).read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "django"]

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompts.policy import (
    POLICY_CATEGORIES,
    PolicyHit,
    RuleError,
    RuleSet,
    default_ruleset,
    load_rule_file,
    policy_check,
)
from prompts.policy.matcher import DATA_DIR


@pytest.fixture(scope="module")
def rules():
    return default_ruleset()


def categories_of(rules, text):
    return {hit.category for hit in rules.check(text)}


def matched_texts(rules, text):
    return [text[hit.start : hit.end] for hit in rules.check(text)]


# --- each category ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("a portrait of Barack Obama in the rain", "famous_people"),
        ("Taylor Swift on stage, 35mm film", "famous_people"),
        ("a battlefield covered in gore", "violence"),
        ("the knight beheaded the dragon", "violence"),
        ("a nude woman on a bed", "adult"),
        ("hentai illustration", "adult"),
        ("election poster with a ballot box", "political"),
        ("a flag with a swastika", "political"),
        ("a sad girl thinking about suicide", "self_harm"),
        ("pro-ana thinspiration collage", "self_harm"),
    ],
)
def test_each_category_fires_on_a_clear_example(rules, text, category):
    assert category in categories_of(rules, text)


def test_every_bundled_category_has_a_display_name(rules):
    assert set(rules.categories) == set(POLICY_CATEGORIES)


def test_several_hundred_famous_people_are_listed():
    ids = {
        rule_id
        for category, _, kind, rule_id in load_rule_file(DATA_DIR / "famous_people.yaml")
        if kind != "allow"
    }
    assert len(ids) >= 400


def test_rule_ids_are_stable_and_shared_by_aliases(rules):
    assert [h.rule_id for h in rules.check("Barack Obama")] == ["famous_people:barack-obama"]
    assert [h.rule_id for h in rules.check("Obama")] == ["famous_people:barack-obama"]
    assert [h.rule_id for h in rules.check("卐")] == ["political:u5350"]


def test_every_rule_term_matches_itself_and_only_its_own_rule(rules):
    misses = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        for category, term, kind, rule_id in load_rule_file(path):
            if kind == "allow":
                continue
            whole = [
                h.rule_id
                for h in rules.check(term)
                if h.category == category and (h.start, h.end) == (0, len(term.rstrip(".")))
            ]
            if whole != [rule_id]:
                misses.append((term, rule_id, whole))
    assert misses == []


# --- evasions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0bama",
        "OBAMA",
        "O b a m a",
        "o.b.a.m.a",
        "o-b-a-m-a",
        "O  .  b  .  a  .  m  .  a",
        "Ōbama",
        "Óbàmä",
        "Оbаmа",  # Cyrillic О and а
        "Ob\u200dam\u200ba",  # zero-width joiner and space
        "Obaaaama",
        "0b4m4",
        "0 b 4 m 4",
        "B a r a c k O b a m a",
        "barackobama",
        "Barack-Obama",
        "ob-ama",
        "@obama",
        "a portrait of a O B A M A",
        "Obama's speech",
    ],
)
def test_evasions_of_a_name_are_caught(rules, text):
    assert [h.rule_id for h in rules.check(text)] == ["famous_people:barack-obama"]


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("g0re", "violence:gore"),
        ("gooooore everywhere", "violence:gore"),
        ("GORE!!!", "violence:gore"),
        ("g o r e", "violence:gore"),
        ("g.o.r.e", "violence:gore"),
        ("gоrе", "violence:gore"),  # Cyrillic о and е
        ("go\u200bre", "violence:gore"),
        ("h1tl3r", "famous_people:adolf-hitler"),
        ("$3x", "adult:sex"),
        ("s3xy", "adult:sexy"),
        ("k!ll myself", "self_harm:kill-myself"),
        ("k1ll myself", "self_harm:kill-myself"),
        ("selfharm", "self_harm:self-harm"),
        ("bl00d bath", "violence:blood-bath"),
        ("Beyonce", "famous_people:beyonce"),
        ("BEYONCÉ", "famous_people:beyonce"),
        ("Kim Jong-un", "famous_people:kim-jong-un"),
        ("J.K. Rowling", "famous_people:jk-rowling"),
        ("JK Rowling", "famous_people:jk-rowling"),
        ("George H.W. Bush", "famous_people:george-hw-bush"),
    ],
)
def test_evasions_of_terms_are_caught(rules, text, rule_id):
    assert rule_id in {h.rule_id for h in rules.check(text)}


def test_prefix_rules_match_word_forms(rules):
    for text in ("behead", "beheaded", "beheading", "decapitation", "pornographic"):
        assert rules.check(text), text


# --- innocent prompts ----------------------------------------------------------------------

INNOCENT = [
    "a shooting star over the sea",
    "photo shoot in a studio",
    "class portrait",
    "a grape vine",
    "Washington Monument at dusk",
    "a bass guitar",
    "therapist office",
    "Scunthorpe town sign",
    "a cocktail glass on a brass table",
    "an assortment of pastries",
    "a classic car in Sussex",
    "a rapper rapping into a microphone",
    "a knock, rapping at my chamber door",
    "a bowl of goop",
    "a basset hound in the grass",
    "Essex countryside at sunrise",
    "a Gore-Tex jacket on a hiker",
    "a murder of crows on a fence",
    "murder hornet macro photograph",
    "nude lipstick and nude tones",
    "stars visible to the naked eye",
    "a naked mole rat in a burrow",
    "a pussy willow branch in a vase",
    "a tiger, woods, and mountains",
    "the Isis temple at Philae",
    "a king charles spaniel puppy",
    "Ho Chi Minh City at night",
    "Prince William Sound glacier",
    "a shot of espresso",
    "the sunset was killer",
    "a political science lecture hall",
    "a Titanic model in a bottle",
    "Grant Park in Chicago",
    "a lincoln town car",
    "a bush in the garden",
    "trump card on a poker table",
    "a cabinet of curiosities",
    "a dramatic photoshoot with smoke",
    "an ice cube in a glass",
    "sketch of a horse, 3d render, 4k, 8k, f1.8, 35mm",
    "(masterpiece:1.2), best quality, ultra detailed",
    "Madonna and Child, oil on panel",
    "it's a beautiful day",
    "an old map of the U.S.A. and Canada",
    "a scissor sculpture",
    "a fire hydrant in Manhattan",
    "Martin Luther nailing theses to a door",
]


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_prompts_do_not_fire(rules, text):
    assert rules.check(text) == []


def test_an_allow_phrase_silences_only_itself(rules):
    assert rules.check("a Gore-Tex jacket") == []
    assert categories_of(rules, "a Gore-Tex jacket covered in gore") == {"violence"}


def test_names_do_not_span_a_comma(rules):
    assert rules.check("a tiger, woods") == []
    assert categories_of(rules, "Tiger Woods playing golf") == {"famous_people"}


def test_doubled_letters_do_not_make_another_word_match(rules):
    assert rules.check("rapped") == []
    assert "violence" in categories_of(rules, "raaaped")


# --- spans ----------------------------------------------------------------------------


def test_spans_map_back_to_the_original_text(rules):
    assert matched_texts(rules, "A photo of Barack Obama, smiling") == ["Barack Obama"]
    assert matched_texts(rules, "portrait of O . b . a . m . a!") == ["O . b . a . m . a"]
    assert matched_texts(rules, "so much g\u200bo\u200bre!!!") == ["g\u200bo\u200bre"]
    assert matched_texts(rules, "O\u0304bama\u0301 waves") == ["O\u0304bama\u0301"]
    assert matched_texts(rules, "a portrait of a O B A M A") == ["O B A M A"]


def test_hits_are_ordered_and_one_per_span(rules):
    hits = rules.check("Michelle Obama and gore, then a nude")
    assert [(h.category, h.rule_id) for h in hits] == [
        ("famous_people", "famous_people:michelle-obama"),
        ("violence", "violence:gore"),
        ("adult", "adult:nude"),
    ]
    assert all(isinstance(h, PolicyHit) for h in hits)


def test_empty_and_symbol_only_texts_have_no_hits(rules):
    assert rules.check("") == []
    assert rules.check("   ,,, !!! ...") == []


# --- hypothesis: random disguises of a known name --------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SEPARATORS = [" ", "  ", ".", "-", "_", " . ", "·", "*", "/"]
CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"}


@given(
    positions=st.lists(st.integers(min_value=0, max_value=12), max_size=6),
    invisible=st.lists(st.sampled_from(INVISIBLE), min_size=6, max_size=6),
)
def test_invisible_characters_anywhere_still_match(positions, invisible):
    rules = default_ruleset()
    text = "Barack Obama"
    for position, ch in zip(sorted(positions, reverse=True), invisible, strict=False):
        text = text[:position] + ch + text[position:]
    assert "famous_people:barack-obama" in {h.rule_id for h in rules.check(text)}


@given(
    separator=st.sampled_from(SEPARATORS),
    upper=st.lists(st.booleans(), min_size=5, max_size=5),
    cyrillic=st.lists(st.booleans(), min_size=5, max_size=5),
    before=st.sampled_from(["", "a photo of ", "portrait, ", "painting of "]),
    after=st.sampled_from(["", " smiling", ", oil painting", "!"]),
)
def test_spelled_out_disguised_name_still_matches(separator, upper, cyrillic, before, after):
    rules = default_ruleset()
    letters = []
    for ch, up, cyr in zip("obama", upper, cyrillic, strict=True):
        ch = CYRILLIC.get(ch, ch) if cyr else ch
        letters.append(ch.upper() if up else ch)
    text = before + separator.join(letters) + after
    assert [h.rule_id for h in rules.check(text)] == ["famous_people:barack-obama"]


@given(st.text(max_size=80))
def test_any_text_gives_hits_with_valid_spans(text):
    for hit in default_ruleset().check(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.category in POLICY_CATEGORIES


# --- building rule sets -----------------------------------------------------------------------


def test_from_rules_supports_word_prefix_and_allow():
    rules = RuleSet.from_rules(
        [
            ("violence", "stab", "word", "violence:stab"),
            ("violence", "slaughter", "prefix", "violence:slaughter"),
            ("violence", "stab the cake", "allow", "violence:allow:stab-the-cake"),
            ("custom", "grumpy cat", "word", "custom:grumpy-cat"),
        ]
    )
    assert rules.categories == ("violence", "custom")
    assert rules.rule_count == 4
    assert [h.rule_id for h in rules.check("stab")] == ["violence:stab"]
    assert rules.check("stabbing") == []  # a word rule is not a prefix
    assert [h.rule_id for h in rules.check("slaughtered")] == ["violence:slaughter"]
    assert rules.check("stab the cake") == []
    assert [h.category for h in rules.check("a Grumpy-Cat meme")] == ["custom"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("violence", "gore", "fuzzy", "violence:gore"), "match kind"),
        (("", "gore", "word", "x:gore"), "category"),
        (("violence", "!!!", "word", "violence:x"), "no letters"),
        (("famous_people", "Tyler, the Creator", "word", "famous_people:t"), "comma"),
        (("violence", "gore", "word", ""), "rule_id"),
        (("violence", "rap", "prefix", "violence:rap"), "shorter than"),
    ],
)
def test_from_rules_rejects_malformed_rules(row, message):
    with pytest.raises(RuleError, match=message):
        RuleSet.from_rules([row])


def test_from_files_reads_a_directory(tmp_path):
    (tmp_path / "pets.yaml").write_text(
        "category: pets\n"
        "description: test\n"
        "terms:\n"
        "  - term: Grumpy Cat\n"
        "    aliases: [Grumpy]\n"
        "  - term: hamster\n"
        "    match: prefix\n"
        "allow:\n"
        "  - hamster wheel\n"
    )
    rules = RuleSet.from_files(tmp_path)
    assert [h.rule_id for h in rules.check("grumpy")] == ["pets:grumpy-cat"]
    assert [h.rule_id for h in rules.check("hamsters")] == ["pets:hamster"]
    assert rules.check("a hamster wheel") == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("category: pets\nterms: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("category: pets\nterms: []\n", "non-empty list"),
        ("category: pets\nterms:\n  - term: cat\n    match: regex\n", "'match'"),
        ("category: pets\nterms:\n  - name: cat\n", "'term'"),
        ("category: pets\ncolour: red\nterms:\n  - term: cat\n", "unknown keys"),
        ("category: pets\nterms:\n  - term: Cat\n  - term: CAT\n", "repeats the rule"),
    ],
)
def test_malformed_rule_files_are_rejected_with_the_file_named(tmp_path, content, message):
    path = tmp_path / "pets.yaml"
    path.write_text(content)
    with pytest.raises(RuleError, match=message) as error:
        RuleSet.from_files(tmp_path)
    assert "pets.yaml" in str(error.value)


def test_from_files_needs_rule_files(tmp_path):
    with pytest.raises(RuleError, match="no"):
        RuleSet.from_files(tmp_path)


def test_policy_check_uses_the_bundled_rules_unless_given_others():
    assert default_ruleset() is default_ruleset()
    assert [h.category for h in policy_check(text="Obama")] == ["famous_people"]
    custom = RuleSet.from_rules([("pets", "cat", "word", "pets:cat")])
    assert policy_check(text="Obama and a cat", ruleset=custom) == [
        PolicyHit(category="pets", start=12, end=15, rule_id="pets:cat")
    ]

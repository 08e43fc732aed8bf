import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from prompts.linter import CODES, Finding, LintError, LintResult, prompt_lint
from prompts.tokens import token_count


def lint(catalog, prompt, **kwargs) -> LintResult:
    kwargs.setdefault("dialect", "plain")
    return prompt_lint(prompt=prompt, catalog=catalog, **kwargs)


def codes(catalog, prompt, **kwargs) -> set[str]:
    return {f.code for f in lint(catalog, prompt, **kwargs).findings}


def findings(catalog, prompt, code, **kwargs) -> list[Finding]:
    return [f for f in lint(catalog, prompt, **kwargs).findings if f.code == code]


def assert_spans_inside(result: LintResult, prompt: str):
    for finding in result.findings:
        if finding.start is not None:
            assert 0 <= finding.start < finding.end <= len(prompt), finding


# -- result shape ---------------------------------------------------------------------------


def test_result_as_dict_matches_the_api_shape(catalog):
    result = lint(catalog, "two red apples without stems on top of a table")
    data = result.as_dict()
    assert set(data) == {"tokens", "findings"}
    assert set(data["tokens"]) == {"count", "limit", "truncated_text"}
    for finding in data["findings"]:
        assert set(finding) == {"code", "severity", "message", "start", "end", "suggestion"}
        assert finding["code"] in CODES
        assert finding["severity"] in ("info", "warning", "error")
    json.dumps(data)


def test_findings_are_sorted_most_severe_first(catalog):
    result = lint(catalog, "a portrait of two men without hats, next to a red car and a blue bike")
    ranks = [("error", "warning", "info").index(f.severity) for f in result.findings]
    assert ranks == sorted(ranks)


def test_advice_does_not_block(catalog):
    result = lint(catalog, "ten cats without tails to the left of a sign that says 'a b c d'")
    assert result.findings
    assert not result.blocking


# -- token budget -----------------------------------------------------------------------------


def test_token_usage_within_the_embedded_limit(catalog):
    result = lint(catalog, "a fox in a misty forest")
    assert result.tokens.limit == 64
    assert result.tokens.count == 8  # [CLS] a fox in a misty forest [SEP]
    assert result.tokens.truncated_text == ""
    assert "token_budget" not in {f.code for f in result.findings}


def test_token_budget_reports_the_cut_text(catalog):
    prompt = " ".join(f"word{i}" for i in range(200))
    result = lint(catalog, prompt, model="sd15")
    assert result.tokens.limit == 77
    assert result.tokens.count > 77
    assert result.tokens.truncated_text
    assert prompt.endswith(result.tokens.truncated_text)
    (finding,) = findings(catalog, prompt, "token_budget", model="sd15")
    assert finding.severity == "warning"
    assert prompt[finding.start :] == result.tokens.truncated_text


def test_clip_truncation_point_is_exact():
    prompt = "a watercolor painting of a fox in a misty forest, " * 10
    count = token_count(text=prompt, model="clip")
    # "a watercolor painting of a fox in a misty forest ," is 11 CLIP tokens; 75 fit.
    assert count.count == 112
    assert prompt[count.overflow_start :].startswith("forest, a watercolor")


def test_embedded_truncation_counts_special_tokens():
    prompt = "fox " * 62  # 62 tokens + [CLS] + [SEP] = 64
    assert token_count(text=prompt, model="embedded").overflow_start is None
    longer = token_count(text=prompt + "owl", model="embedded")
    assert longer.count == 65
    assert (prompt + "owl")[longer.overflow_start :] == "owl"


@pytest.mark.parametrize("model", ["sd15", "sdxl", "sd3", "clip", "SDXL"])
def test_clip_models_share_the_clip_profile(model):
    assert token_count(text="a cat", model=model).limit == 77


def test_unknown_model_is_a_clear_error(catalog):
    with pytest.raises(LintError) as info:
        lint(catalog, "a cat", model="dall-e-9")
    assert info.value.code == "unknown_model"


def test_local_checkpoint_tokenizer(tmp_path):
    # A diffusers-style checkpoint folder whose tokenizer/ is written from CLIP's own
    # BPE files, so the CLIPTokenizer loading path is exercised without a model hub.
    from prompts.tokens import _ClipProfile

    simple = _ClipProfile()._tokenizer
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps(simple.encoder))
    spec = importlib.util.find_spec("clip")
    bpe = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    with gzip.open(bpe) as fh:
        merges = fh.read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    prompt = "a watercolor painting of a fox in a misty forest, " * 10
    count = token_count(text=prompt, model=str(tmp_path))
    assert count.limit == 77
    assert count.count == 112
    assert prompt[count.overflow_start :].startswith("forest, a watercolor")


def test_too_long_only_in_plain_dialect(catalog):
    prompt = "a quiet harbour at dawn with fishing boats " * 30
    assert len(prompt) > 1000
    (finding,) = findings(catalog, prompt, "too_long", dialect="plain")
    assert finding.start == 1000 and finding.end == len(prompt)
    assert not findings(catalog, prompt, "too_long", dialect="sd")
    assert not findings(catalog, "a quiet harbour at dawn", "too_long", dialect="plain")


# -- text rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        'a sign that says "Very Deep Learning"',
        "a t-shirt with 'Don't Panic, Be Happy' written on it",
        "a mug with “best dad in the world” printed on it",
        "graffiti spelling KEEP OFF THE GRASS on a brick wall",
        "the words STAY HUNGRY STAY FOOLISH on a poster",
        "a wall with BE KIND TO OTHERS painted on it",
        "a shirt with Life Is Good printed on it",
    ],
)
def test_text_rendering_flags_text_of_three_words_or_more(catalog, prompt):
    (finding,) = findings(catalog, prompt, "text_rendering")
    assert finding.severity == "warning"
    assert finding.suggestion


@pytest.mark.parametrize(
    "prompt",
    [
        'a sign that says "STOP"',
        "a book with the words 'Don't Panic!' written on it",
        "a t-shirt with Carpe Diem written on it",
        "a man reading a very long novel under a tree",
        "a conductor's hat and a child's crayon drawing",
        "a logo of a wombat on a coffee mug",
        "A photo of the Space Shuttle Endeavor painted yellow",
    ],
)
def test_text_rendering_leaves_short_or_no_text_alone(catalog, prompt):
    assert not findings(catalog, prompt, "text_rendering")


def test_text_rendering_span_covers_the_quote(catalog):
    prompt = 'a cake with "happy birthday dear Anna" in icing'
    (finding,) = findings(catalog, prompt, "text_rendering")
    assert prompt[finding.start : finding.end] == '"happy birthday dear Anna"'


# -- counting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "span"),
    [
        ("ten red apples", "ten"),
        ("7 dogs sitting around a poker table", "7"),
        ("a family of four posing on the moon", "four"),
        ("Two cups of coffee on a table", "Two"),
        ("a pair of matching socks", "a pair of"),
        ("a dozen eggs in a carton", "a dozen"),
        ("twenty-five balloons", "twenty-five"),
        ("1,000 paper cranes", "1,000"),
    ],
)
def test_counting_flags_exact_counts_above_one(catalog, prompt, span):
    (finding,) = findings(catalog, prompt, "counting")
    assert finding.severity == "warning"
    assert prompt[finding.start : finding.end] == span
    assert "collective noun" in finding.suggestion


@pytest.mark.parametrize(
    "prompt",
    [
        "one apple",
        "a single red rose",
        "several lily pads",
        "a pair of headphones",
        "a pair of black noise-cancelling headphones",
        "a 1920s car",
        "a car from 1965",
        "42",
        "U.S. 101",
        "a ten year old boy",
        "a 35mm photograph",
        "a 3D render in 4K",
        "a three-dimensional cube",
        "a city in 4-dimensional space-time",
        "Three-quarters front view of a car",
        "a three quarters view of a man",
        "a blue Ford F-150 on a mountain road",
        "an aspect ratio of 16:9",
        "a lens at f/1.8",
        "a dog at 5 pm",
    ],
)
def test_counting_leaves_single_things_and_non_counts_alone(catalog, prompt):
    assert not findings(catalog, prompt, "counting")


# -- spatial relations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "span", "severity"),
    [
        ("a red cube on top of a blue cube", "on top of", "info"),
        ("a cat to the left of a dog", "to the left of", "warning"),
        ("a box on the right", "on the right", "warning"),
        ("a vase below a wooden chair", "below", "info"),
        ("a ball underneath the table", "underneath", "info"),
        ("a tree behind a house", "behind", "info"),
        ("a dog in front of a fireplace", "in front of", "info"),
        ("a lamp between two chairs", "between", "info"),
        ("a cup next to a plate", "next to", "info"),
        ("a castle atop a hill", "atop", "info"),
        ("a bird flying over the sea", "over", "info"),
    ],
)
def test_spatial_relation_flags_placements(catalog, prompt, span, severity):
    (finding,) = findings(catalog, prompt, "spatial_relation")
    assert prompt[finding.start : finding.end] == span
    assert finding.severity == severity


@pytest.mark.parametrize(
    "prompt",
    [
        "an overcast sky",
        "leftover pizza",
        "a glass of wine tipped over on a couch",
        "a clover field",
        "the right answer",
        "an undercover agent",
        "a hovercraft",
    ],
)
def test_spatial_relation_ignores_lookalikes(catalog, prompt):
    assert not findings(catalog, prompt, "spatial_relation")


# -- attribute binding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a red cube and a blue sphere",
        "a large yellow circle and a small red square",
        "a wooden chair next to a metal table",
        "a red box next to a blue box",
        "A stack of books. A small dog next to a large cat.",
    ],
)
def test_attribute_binding_flags_two_bound_pairs(catalog, prompt):
    (finding,) = findings(catalog, prompt, "attribute_binding")
    assert finding.severity == "warning"
    assert finding.start is not None


@pytest.mark.parametrize(
    "prompt",
    [
        "a red cube",
        "a large blue box",
        "two red balls on a table",
        "a painting of black and white",
        "a red cube and a red sphere",
        "a large open book. a big stack of books",
    ],
)
def test_attribute_binding_needs_two_different_pairs(catalog, prompt):
    assert not findings(catalog, prompt, "attribute_binding")


# -- negation -----------------------------------------------------------------------------------


def test_negation_suggests_the_rewrite_and_the_negative_prompt(catalog):
    prompt = "a bookshelf without any books on it"
    (finding,) = findings(catalog, prompt, "negation")
    assert finding.severity == "warning"
    assert prompt[finding.start : finding.end] == "without any books on it"
    assert "“a bookshelf”" in finding.suggestion
    assert "negative prompt “books”" in finding.suggestion


def test_negation_in_midjourney_suggests_no(catalog):
    prompt = "a street without cars --ar 3:2 --no text"
    (finding,) = findings(catalog, prompt, "negation", dialect="midjourney")
    assert "“a street --ar 3:2 --no text, cars”" in finding.suggestion


def test_negation_adds_to_the_existing_negative_prompt(catalog):
    result = lint(catalog, "a horse without a rider", negative_prompt="blurry", dialect="sd")
    (finding,) = [f for f in result.findings if f.code == "negation"]
    assert "negative prompt “blurry, rider”" in finding.suggestion


def test_negation_with_no(catalog):
    prompt = "a house with no windows"
    (finding,) = findings(catalog, prompt, "negation")
    assert "“a house”" in finding.suggestion and "“windows”" in finding.suggestion


@pytest.mark.parametrize(
    "prompt",
    [
        "a fish without eyes",
        "a man who is not smiling",
        "a room with nothing in it",
        "a cat that never sleeps",
        "don't show any people",
    ],
)
def test_negation_flags_negative_words(catalog, prompt):
    assert findings(catalog, prompt, "negation")


@pytest.mark.parametrize(
    "prompt",
    [
        "a knot",
        "a notebook",
        "a nothingburger",
        "a snowy notch",
        "a Nordic landscape",
        "a fox --no text, watermark",
    ],
)
def test_negation_ignores_lookalikes_and_the_no_parameter(catalog, prompt):
    assert not findings(catalog, prompt, "negation", dialect="midjourney")


# -- people --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["a portrait of an old man", "a crowd of people", "hands holding a cup", "a child on a couch"],
)
def test_faces_notes_people(catalog, prompt):
    (finding,) = findings(catalog, prompt, "faces")
    assert finding.severity == "info"
    assert "hands" in finding.suggestion


@pytest.mark.parametrize("prompt", ["a lighthouse at dusk", "a hand-drawn map", "a mandolin"])
def test_faces_needs_people(catalog, prompt):
    assert not findings(catalog, prompt, "faces")


# -- words ----------------------------------------------------------------------------------------


def test_unknown_word_suggests_the_closest_word(catalog):
    prompt = "four teacups surounding a kettle"
    (finding,) = findings(catalog, prompt, "unknown_word")
    assert prompt[finding.start : finding.end] == "surounding"
    assert "surrounding" in finding.suggestion


def test_unknown_word_flags_gibberish(catalog):
    prompt = "two whales talking about food, with subtitles: apoploe vesrreaitais"
    flagged = {prompt[f.start : f.end] for f in findings(catalog, prompt, "unknown_word")}
    assert flagged == {"apoploe", "vesrreaitais"}


@pytest.mark.parametrize(
    "prompt",
    [
        "a Stegasaurus in a swamp",
        "a fox by Katsushika Hokusai",
        "a capybara",
        "the word 'mardefly'",
    ],
)
def test_unknown_word_spares_names_catalog_terms_and_quoted_text(catalog, prompt):
    assert not findings(catalog, prompt, "unknown_word")


def test_duplicate_word(catalog):
    prompt = "a lantern beside a lantern"
    (finding,) = findings(catalog, prompt, "duplicate")
    assert finding.severity == "info"
    assert (finding.start, finding.end) == (19, 26)


def test_no_duplicate_for_stopwords(catalog):
    assert not findings(catalog, "a cat on a mat in a hat", "duplicate")


# -- modifiers ------------------------------------------------------------------------------------


def _conflicting_pair(catalog):
    for entry in catalog:
        for other in sorted(catalog.conflicts_of(entry.slug)):
            return entry, catalog.get(other)
    pytest.skip("the catalog lists no conflicts")


def test_conflicting_modifiers_from_the_catalog(catalog):
    first, second = _conflicting_pair(catalog)
    prompt = f"a lighthouse, {first.fragment}, {second.fragment}"
    (finding,) = findings(catalog, prompt, "conflicting_modifiers")
    assert finding.severity == "warning"
    assert first.name in finding.message and second.name in finding.message


def test_two_eras_conflict(catalog):
    eras = catalog.category("era").modifiers
    prompt = f"a lighthouse, {eras[0].fragment}, {eras[1].fragment}"
    assert findings(catalog, prompt, "conflicting_modifiers")


def test_no_conflict_for_compatible_modifiers(catalog):
    medium = catalog.category("medium").modifiers[0]
    lighting = next(
        m
        for m in catalog.category("lighting").modifiers
        if m.slug not in catalog.conflicts_of(medium.slug)
    )
    prompt = f"a lighthouse, {medium.fragment}, {lighting.fragment}"
    assert not findings(catalog, prompt, "conflicting_modifiers")


def test_duplicate_modifier(catalog):
    medium = catalog.category("medium").modifiers[0]
    prompt = f"{medium.fragment} of a fox, {medium.fragment.upper()}"
    found = findings(catalog, prompt, "duplicate")
    assert any(medium.name in f.message for f in found)


def test_vague_subject_alone(catalog):
    (finding,) = findings(catalog, "a cat", "vague")
    assert finding.severity == "info"
    assert "medium" in finding.suggestion


@pytest.mark.parametrize("prompt", ["a cat sitting on a windowsill at night", ""])
def test_vague_needs_a_short_bare_prompt(catalog, prompt):
    assert not findings(catalog, prompt, "vague")


def test_not_vague_with_a_modifier(catalog):
    medium = catalog.category("medium").modifiers[0]
    assert not findings(catalog, f"a cat, {medium.fragment}", "vague")


def test_style_leak_for_era_and_style(catalog):
    era = catalog.category("era").modifiers[0]
    (finding,) = findings(catalog, f"a kitchen, {era.fragment}", "style_leak")
    assert finding.severity == "info"
    assert "clothing" in finding.message
    assert not findings(catalog, "a kitchen", "style_leak")


def test_unknown_to_model_only_for_the_embedded_model(catalog):
    unknown = next((m for m in catalog if not m.embedded), None)
    if unknown is None:
        pytest.skip("every modifier is known to the embedded model")
    prompt = f"a lighthouse, {unknown.fragment}"
    (finding,) = findings(catalog, prompt, "unknown_to_model", model="embedded")
    assert unknown.name in finding.message
    assert not findings(catalog, prompt, "unknown_to_model", model="sdxl")
    known = next(m for m in catalog if m.embedded)
    assert not findings(catalog, f"a lighthouse, {known.fragment}", "unknown_to_model")


# -- policy ---------------------------------------------------------------------------------------


def test_policy_errors_block_and_name_only_the_category(catalog):
    policy = pytest.importorskip("prompts.policy")
    hits = [
        (text, policy.policy_check(text=text))
        for text in (
            "a propaganda poster",
            "a photo of Barack Obama",
            "a bloody gore scene",
            "nude",
        )
    ]
    text, hit = next(((t, h) for t, h in hits if h), (None, None))
    if text is None:
        pytest.skip("the policy flags none of the sample prompts")
    result = lint(catalog, text)
    errors = [f for f in result.findings if f.code == "policy"]
    assert errors and all(f.severity == "error" for f in errors)
    assert result.blocking
    assert hit[0].category.replace("_", " ") in errors[0].message
    assert text[hit[0].start : hit[0].end] not in errors[0].message


# -- hostile input --------------------------------------------------------------------------------


def test_html_is_plain_text(catalog):
    prompt = '<script>alert("pwned by the three of us")</script><b>a cat</b>'
    result = lint(catalog, prompt)
    assert_spans_inside(result, prompt)
    assert "text_rendering" in {f.code for f in result.findings}


def test_nul_bytes_do_not_crash(catalog):
    prompt = "a cat\x00 without\x00 a hat\x00"
    result = lint(catalog, prompt)
    assert_spans_inside(result, prompt)


def test_very_long_prompts_do_not_crash(catalog):
    prompt = ("ten red apples without stems to the left of 'a b c d' zxqv " * 250)[:12000]
    result = lint(catalog, prompt, model="sdxl")
    assert_spans_inside(result, prompt)
    assert "token_budget" in {f.code for f in result.findings}
    assert len(findings(catalog, prompt, "unknown_word")) <= 8


def test_unknown_dialect(catalog):
    with pytest.raises(LintError) as info:
        lint(catalog, "a cat", dialect="dalle")
    assert info.value.code == "unknown_dialect"


def test_weighted_sd_prompt_spans_point_into_the_original(catalog):
    prompt = "(ten red apples:1.3), [a blue bowl], ((two green pears))"
    result = lint(catalog, prompt, dialect="sd")
    counting = [prompt[f.start : f.end] for f in result.findings if f.code == "counting"]
    assert counting == ["ten", "two"]
    assert result.tokens.count < 30


@pytest.mark.parametrize(
    "prompt",
    [
        "a red fish under a night sky",  # the setting is a backdrop, not an object to place
        "A stained glass window of a red fish, golden hour light",  # style terms, not attributes
    ],
)
def test_builder_output_does_not_draw_false_scene_findings(catalog, prompt):
    assert not {"spatial_relation", "attribute_binding"} & codes(catalog, prompt)


def test_objects_still_draw_scene_findings_next_to_modifiers(catalog):
    found = codes(catalog, "a red cube under a blue sphere, golden hour light")
    assert {"spatial_relation", "attribute_binding"} <= found

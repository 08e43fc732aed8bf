"""The public prompt endpoints: compose, preview, lint, parse, expand — happy paths and bad input."""

import pytest

from prompts.services import catalog_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loaded_catalog(db):
    catalog_load()


def error(response, status=422):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


# -- compose ------------------------------------------------------------------------------------


def test_compose_plain_renders_prose_and_reviews_it(api):
    response = api.post("/prompts/compose", {"subject": "five red apples",
                                             "modifiers": ["watercolor", {"slug": "katsushika-hokusai"}],
                                             "dialect": "plain"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["prompt"] == "A watercolor painting of five red apples, in the style of Katsushika Hokusai"
    assert data["negative_prompt"] == ""
    assert set(data["lint"]) == {"tokens", "findings"}
    assert data["lint"]["tokens"]["limit"] == 64  # the embedded model's MiniLM window
    counting = [f for f in data["lint"]["findings"] if f["code"] == "counting"]
    assert counting and data["prompt"][counting[0]["start"]:counting[0]["end"]] == "five"
    assert set(counting[0]) == {"code", "severity", "message", "start", "end", "suggestion"}


def test_compose_sd_weights_and_separate_negative(api):
    response = api.post("/prompts/compose", {"subject": "a fox", "dialect": "sd",
                                             "modifiers": [{"slug": "watercolor", "weight": 1.3}, "serene"],
                                             "negative_prompt": "blurry,  text"})
    data = response.json()
    assert response.status_code == 200
    assert data["prompt"].startswith("a fox, (watercolor painting:1.3)")
    assert data["negative_prompt"] == "blurry, text"


def test_compose_midjourney_puts_parameters_in_the_prompt(api):
    response = api.post("/prompts/compose", {"subject": "a fox", "dialect": "midjourney",
                                             "negative_prompt": "text",
                                             "params": {"aspect_ratio": "3:2", "seed": 7}})
    assert response.status_code == 200
    assert response.json()["prompt"] == "A fox --ar 3:2 --no text --seed 7"


def test_compose_unknown_slug_is_named(api):
    err = error(api.post("/prompts/compose", {"subject": "a fox", "modifiers": ["watercolor", "no-such-thing"]}))
    assert err["code"] == "unknown_modifier"
    assert "no-such-thing" in err["message"]
    assert err["details"]["slugs"] == ["no-such-thing"]


@pytest.mark.parametrize("field", ["subject", "negative_prompt"])
def test_compose_rejects_overlong_text_and_nul(api, field):
    err = error(api.post("/prompts/compose", {"subject": "a fox", field: "x" * 10_001}))
    assert err["code"] == "too_long" and err["details"] == {"field": field, "length": 10_001, "max": 10_000}
    err = error(api.post("/prompts/compose", {"subject": "a fox", field: "a\x00b"}))
    assert err["code"] == "invalid_character" and err["details"]["position"] == 1


def test_compose_unknown_dialect_and_bad_weight(api):
    assert error(api.post("/prompts/compose", {"subject": "a fox", "dialect": "klingon"}))["code"] == "unknown_dialect"
    err = error(api.post("/prompts/compose", {"subject": "a fox", "modifiers": [{"slug": "watercolor", "weight": 9}]}))
    assert err["code"] == "invalid_weight"


def test_compose_echoes_html_as_json_text(api):
    response = api.post("/prompts/compose", {"subject": "<script>alert(1)</script> fox"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["prompt"] == "<script>alert(1)</script> fox"


# -- preview (the builder's call): compose + one-click fixes ------------------------------------------


def test_preview_offers_a_fix_per_finding(api):
    response = api.post("/prompts/preview", {"subject": "five red apples", "modifiers": ["watercolor"]})
    data = response.json()
    assert response.status_code == 200
    assert len(data["fixes"]) == len(data["lint"]["findings"])
    index = next(i for i, f in enumerate(data["lint"]["findings"]) if f["code"] == "counting")
    fix = data["fixes"][index]
    assert fix["prompt"] == "A watercolor painting of a group of red apples"
    assert fix["label"] == "Replace “five” with “a group of”"


def test_preview_negation_fix_moves_the_phrase_to_the_negative_prompt(api):
    data = api.post("/prompts/preview", {"subject": "a cat without a collar", "modifiers": ["watercolor"],
                                         "negative_prompt": "blurry"}).json()
    index = next(i for i, f in enumerate(data["lint"]["findings"]) if f["code"] == "negation")
    assert data["fixes"][index] == {"label": "Move “collar” to the negative prompt",
                                    "prompt": "A watercolor painting of a cat",
                                    "negative_prompt": "blurry, collar"}


# -- lint --------------------------------------------------------------------------------------------


def test_lint_counts_tokens_and_reports_findings(api):
    response = api.post("/prompts/lint", {"prompt": "a cat with no dog"})
    data = response.json()
    assert response.status_code == 200
    assert data["tokens"]["count"] > 2 and data["tokens"]["limit"] == 64
    assert data["tokens"]["truncated_text"] == ""
    negation = next(f for f in data["findings"] if f["code"] == "negation")
    assert (negation["start"], negation["end"]) == (11, 17)
    assert set(data) == {"tokens", "findings"}


def test_lint_shows_what_the_model_cuts_off(api):
    prompt = ", ".join(["a lighthouse on a cliff"] * 20)
    data = api.post("/prompts/lint", {"prompt": prompt}).json()
    assert data["tokens"]["count"] > data["tokens"]["limit"]
    assert data["tokens"]["truncated_text"] and prompt.endswith(data["tokens"]["truncated_text"])


def test_lint_for_another_model_and_an_unknown_one(api):
    assert api.post("/prompts/lint", {"prompt": "a fox", "model": "clip"}).json()["tokens"]["limit"] == 77
    assert error(api.post("/prompts/lint", {"prompt": "a fox", "model": "no-such-model"}))["code"] == "unknown_model"


def test_lint_bad_input(api):
    assert error(api.post("/prompts/lint", {"prompt": "y" * 10_001}))["code"] == "too_long"
    assert error(api.post("/prompts/lint", {"prompt": "fox\x00"}))["code"] == "invalid_character"
    assert error(api.post("/prompts/lint", {}))["code"] == "validation_error"
    assert api.post("/prompts/lint", {"prompt": "x" * 10_000}).status_code == 200


# -- parse ------------------------------------------------------------------------------------------


def test_parse_reads_subject_modifiers_and_leftovers(api):
    prompt = "A watercolor painting of a fox, in the style of Katsushika Hokusai, purple teapot collection"
    data = api.post("/prompts/parse", {"prompt": prompt}).json()
    assert data["subject"] == "a fox"
    assert [(m["slug"], m["category"], m["weight"]) for m in data["modifiers"]] == [
        ("watercolor", "medium", 1.0), ("katsushika-hokusai", "artist", 1.0)]
    first = data["modifiers"][0]
    assert prompt[first["start"]:first["end"]] == "watercolor painting"
    assert data["unrecognized"] == ["purple teapot collection"]


def test_parse_bad_input_and_html(api):
    assert error(api.post("/prompts/parse", {"prompt": "z" * 10_001}))["code"] == "too_long"
    assert error(api.post("/prompts/parse", {"prompt": "\x00"}))["code"] == "invalid_character"
    data = api.post("/prompts/parse", {"prompt": "<img src=x onerror=alert(1)>"}).json()
    assert "<img" in data["subject"]


# -- expand -----------------------------------------------------------------------------------------


def test_expand_all_and_random(api):
    data = api.post("/prompts/expand", {"template": "a {red|blue} {fox|owl}", "mode": "all"}).json()
    assert data == {"prompts": ["a red fox", "a red owl", "a blue fox", "a blue owl"], "total": 4}
    one = api.post("/prompts/expand", {"template": "a {red|blue|green} fox", "mode": "random", "count": 3, "seed": 5}).json()
    again = api.post("/prompts/expand", {"template": "a {red|blue|green} fox", "mode": "random", "count": 3, "seed": 5}).json()
    assert one == again and len(one["prompts"]) == 3 and one["total"] == 3


def test_expand_over_64_names_the_total(api):
    template = "{a|b|c|d|e} {f|g|h|i|j} {k|l|m}"  # 75
    err = error(api.post("/prompts/expand", {"template": template, "mode": "all"}))
    assert err["code"] == "too_many_combinations"
    assert err["details"]["total"] == 75 and "75" in err["message"]
    # 64 exactly is fine
    assert api.post("/prompts/expand", {"template": "{a|b|c|d|e|f|g|h} {1|2|3|4|5|6|7|8}"}).json()["total"] == 64


def test_expand_unbalanced_braces_give_the_position(api):
    err = error(api.post("/prompts/expand", {"template": "a {red|blue fox"}))
    assert err["code"] == "syntax_error" and err["details"]["position"] == 2
    err = error(api.post("/prompts/expand", {"template": "a red} fox"}))
    assert err["details"]["position"] == 5


def test_expand_bad_input(api):
    assert error(api.post("/prompts/expand", {"template": "{a|b}" * 2001}))["code"] == "too_long"
    assert error(api.post("/prompts/expand", {"template": "a\x00"}))["code"] == "invalid_character"
    assert error(api.post("/prompts/expand", {"template": "a", "mode": "some"}))["code"] == "invalid_mode"
    assert error(api.post("/prompts/expand", {"template": "a", "mode": "random", "count": 65}))["code"] == "invalid_count"
    data = api.post("/prompts/expand", {"template": "{<b>bold</b>|<i>x</i>}"}).json()
    assert data["prompts"] == ["<b>bold</b>", "<i>x</i>"]


def test_public_endpoints_answer_without_login_and_openapi_lists_them(api, client):
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("compose", "lint", "parse", "expand", "preview"):
        assert f"/api/v1/prompts/{path}" in schema["paths"]
    assert "/api/v1/presets/{preset_id}" in schema["paths"]


def fixes_by_code(data):
    return {f["code"]: fix for f, fix in zip(data["lint"]["findings"], data["fixes"], strict=True)}


def test_preview_fixes_for_conflicts_spelling_and_repeats(api):
    data = api.post("/prompts/preview", {"subject": "a lighhouse, red, red", "modifiers": ["watercolor", "oil-painting"],
                                         "dialect": "sd"}).json()
    fixes = fixes_by_code(data)
    assert data["prompt"] == "a lighhouse, red, red, watercolor painting, oil painting"
    assert fixes["conflicting_modifiers"] == {"label": "Remove “oil painting”",
                                              "prompt": "a lighhouse, red, red, watercolor painting",
                                              "negative_prompt": ""}
    assert fixes["unknown_word"]["prompt"] == "a lighthouse, red, red, watercolor painting, oil painting"
    assert fixes["duplicate"]["prompt"] == "a lighhouse, red, watercolor painting, oil painting"


def test_preview_fix_removes_a_weighted_term_whole(api):
    data = api.post("/prompts/preview", {"subject": "a fox", "dialect": "sd",
                                         "modifiers": ["watercolor", {"slug": "oil-painting", "weight": 1.3}]}).json()
    assert data["prompt"] == "a fox, watercolor painting, (oil painting:1.3)"
    assert fixes_by_code(data)["conflicting_modifiers"]["prompt"] == "a fox, watercolor painting"


def test_preview_advice_without_a_single_edit_has_no_fix(api):
    data = api.post("/prompts/preview", {"subject": "a man left of a blue car"}).json()
    fixes = fixes_by_code(data)
    assert "spatial_relation" in fixes and fixes["spatial_relation"] is None

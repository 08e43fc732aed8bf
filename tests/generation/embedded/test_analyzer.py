"""The analyzer that scores the model must itself read rendered scenes correctly."""

import pytest

from generation.embedded import evaluate
from generation.embedded.analyzer import SHIPPED_PATH, Analyzer
from generation.embedded.renderer import render_scene

pytestmark = pytest.mark.skipif(not SHIPPED_PATH.exists(), reason=f"no fitted analyzer at {SHIPPED_PATH}")


def test_analyzer_reads_rendered_ground_truth():
    analyzer = Analyzer.load_shipped()
    cases = evaluate.build_cases(60, seed=1)
    results = [evaluate.score(c, render_scene(c.spec, seed=7 + i), analyzer) for i, c in enumerate(cases)]
    checks = [ok for r in results for ok in r.values()]
    assert sum(checks) / len(checks) >= 0.95


def test_held_out_prompts_are_never_in_training():
    from generation.embedded.data import is_held_out

    for case in evaluate.build_cases(40):
        first = case.spec.objects[0]
        assert is_held_out(first.colour, first.kind, case.spec.setting)


def test_the_seen_control_asks_only_for_triples_seen_in_training():
    from generation.embedded.data import is_held_out

    control = evaluate.build_control_cases(40)
    assert len(control) == 40 and all(c.kind == "single" for c in control)
    for case in control:
        obj = case.spec.objects[0]
        assert not is_held_out(obj.colour, obj.kind, case.spec.setting)
        assert obj.colour in case.prompt and obj.kind in case.prompt


def test_pair_diagnostics_name_a_binding_failure():
    from dataclasses import replace

    analyzer = Analyzer.load_shipped()
    case = next(c for c in evaluate.build_cases(400) if c.kind == "pair" and c.spec.relation == "left of")
    first, second = case.spec.objects
    right = evaluate.diagnose_pair(case, analyzer.detect(render_scene(case.spec, seed=3), case.spec.setting))
    assert right == {"both colours present": True, "first object right": True, "second object right": True,
                     "second took the first's colour": False}
    # The second object drawn in the first one's colour: the failure the diagnostics exist to count.
    swapped = replace(case.spec, objects=(first, replace(second, colour=first.colour)))
    wrong = evaluate.diagnose_pair(case, analyzer.detect(render_scene(swapped, seed=3), swapped.setting))
    assert wrong["second took the first's colour"] and not wrong["both colours present"]
    assert not wrong["second object right"]


def test_shape_confusion_counts_each_kind_and_what_it_was_read_as():
    from dataclasses import replace

    analyzer = Analyzer.load_shipped()
    cases = [c for c in evaluate.build_cases(200, seed=2) if c.kind == "single"][:12]
    dets = [analyzer.detect(render_scene(c.spec, seed=11 + i), c.spec.setting) for i, c in enumerate(cases)]
    # One image drawn as the wrong kind, one with nothing in it.
    asked = cases[0].spec.objects[0]
    other = "heart" if asked.kind != "heart" else "moon"
    wrong = replace(cases[0].spec, objects=(replace(asked, kind=other),))
    dets[0] = analyzer.detect(render_scene(wrong, seed=11), wrong.setting)
    dets[1] = []
    confusion = evaluate.shape_confusion(list(zip(cases, dets, strict=True)))
    assert sum(row["n"] for row in confusion.values()) == len(cases)
    assert confusion[asked.kind]["read_as"].get(other, 0) >= 1
    assert confusion[cases[1].spec.objects[0].kind]["read_as"].get("-", 0) >= 1
    # The analyzer reads the renderer's own drawings right: every other image counts as drawn.
    assert sum(row["right"] for row in confusion.values()) == len(cases) - 2
    text = evaluate.format_confusion(confusion)
    assert f"{other} 1" in text.splitlines()[1 + list(confusion).index(asked.kind)]

"""Score the linter against PartiPrompts, an outside benchmark of hard prompts.

PartiPrompts labels each prompt with the Challenge it poses (Quantity, Writing &
Symbols, Properties & Positioning, ...). The subsets scored here are picked by simple
rules written below, independent of the linter, so a recall figure says how often the
linter flags a prompt that a plain reading says it should:

- counting: Quantity rows with an explicit count above one (a number word from two to
  twenty, "dozen", a number 2 or more, or "pair of");
- text_rendering: Writing & Symbols rows with quoted text of three or more words;
- spatial_relation: Properties & Positioning rows with a relation word;
- negation: rows whose Note is "Negation".

It also reports the share of Basic rows (single concepts) that draw any warning, which
should be near zero, and the median time to lint one prompt.
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from prompts.catalog import Catalog

TARGET_RECALL = 0.85
TARGET_BASIC_WARNINGS = 0.05
TARGET_MEDIAN_MS = 2.0

_COUNT_RULE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|dozen)\b|\b(?:[2-9]|[1-9]\d+)\b|"
    r"\bpair of\b",
    re.IGNORECASE,
)
_QUOTE_RULE = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|(?<!\w)'([^']+)'(?!\w)")
_RELATION_RULE = re.compile(
    r"\b(?:on top of|above|below|beneath|under|underneath|left of|right of|to the left|"
    r"to the right|behind|in front of|between|next to|beside|atop|over)\b",
    re.IGNORECASE,
)


def _has_long_quote(prompt: str) -> bool:
    for match in _QUOTE_RULE.finditer(prompt):
        text = next(g for g in match.groups() if g is not None)
        if len(text.split()) >= 3:
            return True
    return False


@dataclass(frozen=True)
class _Subset:
    name: str
    code: str
    label: str

    def selects(self, row: dict) -> bool:
        prompt = row["Prompt"]
        if self.name == "counting":
            return row["Challenge"] == "Quantity" and bool(_COUNT_RULE.search(prompt))
        if self.name == "text_rendering":
            return row["Challenge"] == "Writing & Symbols" and _has_long_quote(prompt)
        if self.name == "spatial_relation":
            return row["Challenge"] == "Properties & Positioning" and bool(
                _RELATION_RULE.search(prompt)
            )
        if self.name == "negation":
            return row["Note"].strip() == "Negation"
        raise ValueError(self.name)


SUBSETS = (
    _Subset("counting", "counting", "Quantity rows with an explicit count above one"),
    _Subset(
        "text_rendering", "text_rendering", "Writing & Symbols rows with quoted text of 3+ words"
    ),
    _Subset(
        "spatial_relation", "spatial_relation", "Properties & Positioning rows with a relation word"
    ),
    _Subset("negation", "negation", "rows whose Note is Negation"),
)


def _read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            {key: (row.get(key) or "") for key in ("Prompt", "Category", "Challenge", "Note")}
            for row in reader
            if (row.get("Prompt") or "").strip()
        ]


def benchmark_run(
    path: str | Path,
    *,
    catalog: Catalog | None = None,
    model: str = "embedded",
    dialect: str | None = "plain",
) -> dict:
    """Lint every prompt in the TSV; return shares per challenge, recalls and timing."""
    from prompts.linter import prompt_lint

    catalog = catalog or Catalog.from_files()
    rows = _read_rows(Path(path))

    def lint(prompt: str):
        return prompt_lint(prompt=prompt, model=model, dialect=dialect, catalog=catalog)

    for row in rows:  # warm-up: tokenizers, word lists, caches
        lint(row["Prompt"])
    timings = []
    results = []
    for row in rows:
        started = time.perf_counter()
        result = lint(row["Prompt"])
        timings.append((time.perf_counter() - started) * 1000)
        results.append(result)

    codes_by_row = [{f.code for f in r.findings} for r in results]
    warned_by_row = [any(f.severity in ("warning", "error") for f in r.findings) for r in results]

    challenges: dict[str, dict] = {}
    for row, codes in zip(rows, codes_by_row, strict=True):
        entry = challenges.setdefault(row["Challenge"], {"rows": 0, "codes": {}})
        entry["rows"] += 1
        for code in codes:
            entry["codes"][code] = entry["codes"].get(code, 0) + 1
    shares = {
        challenge: {
            "rows": entry["rows"],
            "shares": {code: n / entry["rows"] for code, n in sorted(entry["codes"].items())},
        }
        for challenge, entry in sorted(challenges.items())
    }

    recalls = {}
    for subset in SUBSETS:
        selected = [i for i, row in enumerate(rows) if subset.selects(row)]
        hits = [i for i in selected if subset.code in codes_by_row[i]]
        recalls[subset.name] = {
            "label": subset.label,
            "rows": len(selected),
            "hits": len(hits),
            "recall": len(hits) / len(selected) if selected else 0.0,
            "missed": [rows[i]["Prompt"] for i in selected if i not in set(hits)],
        }

    basic = [i for i, row in enumerate(rows) if row["Challenge"] == "Basic"]
    basic_warned = [i for i in basic if warned_by_row[i]]
    return {
        "path": str(path),
        "prompts": len(rows),
        "model": model,
        "dialect": dialect,
        "challenges": shares,
        "recalls": recalls,
        "basic_warnings": {
            "rows": len(basic),
            "warned": len(basic_warned),
            "share": len(basic_warned) / len(basic) if basic else 0.0,
            "examples": [rows[i]["Prompt"] for i in basic_warned],
        },
        "median_ms": statistics.median(timings) if timings else 0.0,
        "p95_ms": sorted(timings)[int(len(timings) * 0.95)] if timings else 0.0,
    }


_SHORT_CHALLENGES = {
    "Basic": "Basic",
    "Complex": "Complex",
    "Fine-grained Detail": "FineDet",
    "Imagination": "Imagin",
    "Linguistic Structures": "Lingst",
    "Perspective": "Persp",
    "Properties & Positioning": "PropPos",
    "Quantity": "Quant",
    "Simple Detail": "SimpDet",
    "Style & Format": "Style",
    "Writing & Symbols": "Writing",
}


def benchmark_format(result: dict) -> str:
    """The result as a plain-text report: a code × challenge table, then the scores."""
    from prompts.linter import CODES

    challenges = list(result["challenges"])
    headers = [_SHORT_CHALLENGES.get(c, c[:7]) for c in challenges]
    width = max(7, *(len(h) for h in headers))
    code_width = max(len(c) for c in CODES)
    lines = [
        f"PartiPrompts lint benchmark: {result['prompts']} prompts "
        f"(model {result['model']}, dialect {result['dialect']})",
        "",
        "Share of prompts drawing each code, per Challenge:",
        " " * code_width + "  " + "  ".join(h.rjust(width) for h in headers),
        "rows".ljust(code_width)
        + "  "
        + "  ".join(str(result["challenges"][c]["rows"]).rjust(width) for c in challenges),
    ]
    for code in CODES:
        cells = []
        for challenge in challenges:
            share = result["challenges"][challenge]["shares"].get(code, 0.0)
            cells.append((f"{share:.2f}" if share else "-").rjust(width))
        lines.append(code.ljust(code_width) + "  " + "  ".join(cells))
    lines += ["", "Scores:"]

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    for name, entry in result["recalls"].items():
        ok = entry["recall"] >= TARGET_RECALL
        lines.append(
            f"  recall of {name:<17} {entry['recall']:.3f}  ({entry['hits']}/{entry['rows']} "
            f"{entry['label']}; target >= {TARGET_RECALL})  {verdict(ok)}"
        )
    basic = result["basic_warnings"]
    lines.append(
        f"  Basic rows with a warning      {basic['share']:.3f}  ({basic['warned']}/"
        f"{basic['rows']}; target <= {TARGET_BASIC_WARNINGS})  "
        f"{verdict(basic['share'] <= TARGET_BASIC_WARNINGS)}"
    )
    lines.append(
        f"  median ms to lint one prompt   {result['median_ms']:.3f}  (p95 "
        f"{result['p95_ms']:.3f}; target <= {TARGET_MEDIAN_MS})  "
        f"{verdict(result['median_ms'] <= TARGET_MEDIAN_MS)}"
    )
    return "\n".join(lines)

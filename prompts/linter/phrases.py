"""Rules about what the words ask for that models do badly: exact counts, written text
and negation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from prompts.linter.findings import Finding, LintContext

# -- counting -----------------------------------------------------------------------------

_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}
_UNITS = frozenset(
    (  # noqa: SIM905
        "year years yr yrs old o'clock oclock am pm a.m p.m percent degrees degree "
        "times x mph kph km kilometers kilometres m miles mile feet foot ft meters "
        "metres meter metre inches inch in cm mm kg lbs lb pounds ounces oz minutes "
        "minute seconds second hours hour days day weeks week months month centuries "
        "century decades decade st nd rd th k p fps bit bits d dollars dollar cents "
        "quarter quarters "
        "euros gb mb tb hz khz ghz"
    ).split()
)
# Compounds that name a property, not a number of things: "three-dimensional", "two-tone".
_COMPOUND_PROPERTIES = frozenset(
    (  # noqa: SIM905
        "dimensional d tone toned way fold time times year years day hour minute second "
        "story storey bit star stroke speed lane quarter quarters sided"
    ).split()
)
# Things that come in one "pair": "a pair of headphones" is a single object.
_PLURALIA_TANTUM = frozenset(
    (  # noqa: SIM905
        "scissors pants trousers jeans shorts glasses sunglasses spectacles goggles "
        "binoculars headphones earphones earbuds pliers tongs tweezers pajamas pyjamas "
        "leggings tights overalls briefs boxers knickers shears clippers"
    ).split()
)
_NOT_A_COUNT_BEFORE = frozenset(
    (  # noqa: SIM905
        "number no no. route highway interstate u.s us i page chapter version v model "
        "level apollo room platform gate flight channel episode season vol volume issue "
        "iphone windows at since year circa c. part act track size "
        "grade class area district ward pier dock lot exit"
    ).split()
)
_WORD_NUMBER_PATTERN = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_COUNT_RE = re.compile(
    rf"(?P<pair>\ba\s+pair\s+of\b)"
    rf"|(?P<dozen>\b(?:a|one|half\s+a)\s+dozen\b)"
    rf"|(?P<word>\b(?:{_WORD_NUMBER_PATTERN})\b(?:-(?:one|two|three|four|five|six|seven|"
    rf"eight|nine)\b)?)"
    rf"|(?P<digits>(?<![\w$£€#.,/:-])(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?![\w%°/:]|[.,]\d))",
    re.IGNORECASE,
)
_PAIR_OBJECT_RE = re.compile(r"(?:\s+[A-Za-z-]+){1,4}")
_NEXT_WORD_RE = re.compile(r"[\s-]*([A-Za-z][A-Za-z'’.]*)")
_PREV_WORD_RE = re.compile(r"([A-Za-z][A-Za-z'’.]*)\s*$")


def check_counting(ctx: LintContext) -> Iterator[Finding]:
    body = ctx.body
    for match in _COUNT_RE.finditer(body):
        if ctx.in_quotes(match.start()):
            continue
        after = _NEXT_WORD_RE.match(body, match.end())
        next_word = after.group(1).casefold().rstrip(".") if after else ""
        # "three-dimensional", "two-tone", "4-bit": a property, not a number of things.
        compound = body[match.end() : match.end() + 1] == "-"
        if compound and next_word in _COMPOUND_PROPERTIES:
            continue
        if match.group("pair"):
            # "a pair of black headphones" is one object: look past the adjectives.
            following = _PAIR_OBJECT_RE.match(body, match.end())
            if following and _PLURALIA_TANTUM & set(following.group().casefold().split()):
                continue
            count = "a pair of"
        elif match.group("dozen"):
            count = match.group("dozen")
        elif match.group("word"):
            if next_word in _UNITS:
                continue
            count = match.group("word")
        else:
            digits = match.group("digits")
            value = int(digits.replace(",", ""))
            if value < 2 or (len(digits) == 4 and 1000 <= value <= 2199):
                continue
            # A bare number ("42", "U.S. 101") names something; a count needs a noun.
            if not after or next_word in _UNITS:
                continue
            before = _PREV_WORD_RE.search(body, 0, match.start())
            if before and before.group(1).casefold() in _NOT_A_COUNT_BEFORE:
                continue
            count = digits
        yield Finding(
            code="counting",
            severity="warning",
            message=(
                f"Exact counts above one are unreliable: “{match.group().strip()}” may come "
                "out as a different number of things."
            ),
            start=match.start(),
            end=match.end(),
            suggestion=(
                f"Ask for fewer objects (one or two), or replace “{count}” with a collective "
                "noun such as “a group of”, “a pile of” or “a crowd of”."
            ),
        )


# -- written text ------------------------------------------------------------------------

_QUOTED_RE = re.compile(
    r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|«([^»]+)»|(?<![\w'])'((?:[^'\n]|'(?=\w)){1,200}?)'(?!\w)"
)
_TEXT_VERB_RE = re.compile(
    r"\b(?:says|saying|reads|spelling|spells|spelled|spelt|titled|"
    r"entitled|captioned|labell?ed|inscribed|caption|the\s+words?|the\s+letters|"
    r"the\s+text|the\s+phrase|the\s+slogan)\s+(?:that\s+)?",
    re.IGNORECASE,
)
# Unquoted text before the verb that writes it: "KEEP OFF written on a sign", "a shirt
# with Carpe Diem printed on it". Capitalised names before "painted" ("the Space Shuttle
# Endeavor painted yellow") are objects, so mixed case needs "with" in front.
_TEXT_BEFORE_VERB_RE = re.compile(
    r"(?:(?P<caps>(?:\b[A-Z][A-Z'’!?]*[ \t]+){1,12})|\bwith[ \t]+"
    r"(?P<named>(?:[A-Z][A-Za-z'’!?]*[ \t]+){1,12}))(?:written|painted|printed|spelled|"
    r"spelt|carved|engraved|embroidered|stenciled|stencilled)\b"
)
_UNQUOTED_TEXT_END_RE = re.compile(
    r"[,.;:!?\n]|\s(?:on|in|at|with|and|written|painted|printed|next|above|below|under|"
    r"over|that|which|while|as|is|are|for|from|by|of|to|into|onto|across|along)\b"
)


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quoted passage, quotes included."""
    return [(m.start(), m.end()) for m in _QUOTED_RE.finditer(text)]


def _word_count(text: str) -> int:
    return len(text.split())


def _text_finding(start: int, end: int, text: str) -> Finding:
    return Finding(
        code="text_rendering",
        severity="warning",
        message=(
            f"Models misspell text longer than two words: “{text.strip()}” "
            f"({_word_count(text)} words) will likely come out garbled."
        ),
        start=start,
        end=end,
        suggestion=(
            "Keep the text to one or two short words in quotes, or leave a blank "
            "space and add the text afterwards in an editor."
        ),
    )


def check_text_rendering(ctx: LintContext) -> Iterator[Finding]:
    body = ctx.body
    covered: list[tuple[int, int]] = []
    for match in _QUOTED_RE.finditer(body):
        text = next(g for g in match.groups() if g is not None)
        covered.append((match.start(), match.end()))
        if _word_count(text) > 2:
            yield _text_finding(match.start(), match.end(), text)

    def free(start: int, end: int) -> bool:
        return not any(a < end and start < b for a, b in covered)

    for match in _TEXT_VERB_RE.finditer(body):
        start = match.end()
        if start >= len(body) or body[start] in "\"“‘'«":
            continue
        stop = _UNQUOTED_TEXT_END_RE.search(body, start)
        end = stop.start() if stop else len(body)
        text = body[start:end].strip()
        if text and _word_count(text) > 2 and free(start, end):
            covered.append((start, end))
            yield _text_finding(start, start + len(body[start:end].rstrip()), text)
    for match in _TEXT_BEFORE_VERB_RE.finditer(body):
        group = "caps" if match.group("caps") else "named"
        text, start = match.group(group), match.start(group)
        # A sentence-initial article is not text to render ("A sign written ...").
        words = [w for w in text.split() if w not in ("A", "An", "The")]
        if len(words) > 2 and free(start, match.end(group)):
            covered.append((start, match.end(group)))
            yield _text_finding(start, start + len(text.rstrip()), text)


# -- negation --------------------------------------------------------------------------------

_SPACES_RE = re.compile(r"\s+")
_MJ_NO_RE = re.compile(r"(?:--|—)no\b.*?(?=\s(?:--|—)[A-Za-z]|$)", re.S)
_NEGATION_RE = re.compile(
    r"\b(?P<cue>without|no\s+one|no(?=\s+[A-Za-z])|not|never|nothing|none|nobody|"
    r"don['’]t|doesn['’]t|didn['’]t|isn['’]t|aren['’]t|wasn['’]t|weren['’]t|won['’]t|"
    r"can['’]t|cannot|neither|nor)\b",
    re.IGNORECASE,
)
_NEGATED_LEAD_RE = re.compile(
    r"(?:\s+(?:that|which|who)\s+(?:has|have|had|is|are|was|were))?"
    r"\s+(?:with|has|have|had|having)\s*$",
    re.IGNORECASE,
)
_NEGATED_DETERMINERS_RE = re.compile(
    r"\s*(?:(?:any|a|an|the|its|his|her|their|some|single|more)\s+)*", re.IGNORECASE
)
_NEGATED_END_RE = re.compile(
    r"[,.;:!?\n()]|\s(?:and|but|that|which|who|while|with|next|on|in|at|under|near|behind|"
    r"beside|from|to|into|or|for|because|so)\b",
    re.IGNORECASE,
)
_NEGATED_TAIL_RE = re.compile(
    r"\s+(?:on|in|inside|around|over|under)\s+(?:it|them|(?:its|their|his|her)\s+[A-Za-z-]+)\b",
    re.IGNORECASE,
)


def _negated_phrases(body: str) -> list[tuple[int, int, int, int, str]]:
    """(cut start, cut end, cue start, cue end, negated phrase) for each negation; the
    phrase is empty where no object can be told ("not", "never")."""
    out = []
    for match in _NEGATION_RE.finditer(body):
        cue = match.group("cue").casefold()
        if cue not in ("without", "no"):
            out.append((match.start(), match.end(), match.start(), match.end(), ""))
            continue
        start = match.start()
        lead = _NEGATED_LEAD_RE.search(body, 0, start) if cue == "no" else None
        if lead:
            start = lead.start()
        determiners = _NEGATED_DETERMINERS_RE.match(body, match.end())
        phrase_start = determiners.end()
        stop = _NEGATED_END_RE.search(body, phrase_start)
        phrase_end = stop.start() if stop else len(body)
        phrase = body[phrase_start:phrase_end].strip()
        end = phrase_end
        tail = _NEGATED_TAIL_RE.match(body, end)
        if tail:
            end = tail.end()
        out.append((start, end, match.start(), match.end(), phrase))
    return out


def negation_rewrite(body: str) -> tuple[str, str]:
    """The prompt without its "without X" / "no X" phrases, and those Xs."""
    cuts = [(s, e, p) for s, e, _, _, p in _negated_phrases(body) if p]
    pieces = []
    cursor = 0
    for start, end, _ in cuts:
        if start < cursor:
            continue
        pieces.append(body[cursor:start])
        cursor = end
    pieces.append(body[cursor:])
    rewritten = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", "".join(pieces)))
    return rewritten.strip(), ", ".join(dict.fromkeys(p for _, _, p in cuts))


def check_negation(ctx: LintContext) -> Iterator[Finding]:
    found = [n for n in _negated_phrases(ctx.body) if not ctx.in_quotes(n[0])]
    if not found:
        return
    rewritten, negative = negation_rewrite(ctx.body)
    if negative:
        existing = ctx.negative_prompt.strip() or ctx.scan.negative_prompt
        negative = ", ".join(p for p in (existing, negative) if p)
    target = "--no" if ctx.dialect == "midjourney" else "the negative prompt"
    for _, end, cue_start, cue_end, phrase in found:
        said = _SPACES_RE.sub(" ", ctx.body[cue_start : end if phrase else cue_end]).strip()
        if phrase:
            message = (
                f"“{said}”: models draw what a prompt names, so “{phrase}” is likely to appear."
            )
        else:
            message = (
                f"“{said}”: models do not understand negation and tend to draw what follows it."
            )
        if negative:
            if ctx.dialect == "midjourney":
                params = _MJ_NO_RE.sub("", ctx.prompt[ctx.scan.body_end :]).strip()
                action = f"“{' '.join(p for p in (rewritten, params) if p)} --no {negative}”"
            else:
                action = f"the prompt “{rewritten}” with negative prompt “{negative}”"
            suggestion = f"Rewrite as {action}."
        else:
            suggestion = (
                f"Describe what should be there instead, and put what must not appear in {target}."
            )
        yield Finding(
            code="negation",
            severity="warning",
            message=message,
            start=cue_start,
            end=end if phrase else cue_end,
            suggestion=suggestion,
        )

"""Answer extraction from model replies.

Every extractor returns an `Extracted` whose `method` says how the value was
found, so "unparsed" (value None) stays distinct from "wrong", and answers
found only by a weak fallback ("last_number", "option_text") can be counted.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

FALLBACK_METHODS = frozenset({"last_number", "option_text"})


@dataclass
class Extracted:
    value: str | None
    method: str  # "boxed" | "answer_is" | "last_number" | "letter" | "option_text" | "none"

    @property
    def parsed(self) -> bool:
        return self.value is not None

    @property
    def fallback(self) -> bool:
        """True when the value came from a weak heuristic, not an explicit answer."""
        return self.method in FALLBACK_METHODS


NONE = Extracted(None, "none")

# ---------------------------------------------------------------- boxed


_BRACE_RE = re.compile(r"(?<!\\)[{}]")  # a brace not escaped as \{ or \}


def _brace_pairs(text: str) -> dict[int, int]:
    """Position of each '{' -> its matching '}', in one pass (an unclosed '{' has none)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_RE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def _balanced(text: str, open_at: int) -> str | None:
    """Content of the brace group starting at text[open_at] == '{' (nesting aware)."""
    close = _brace_pairs(text[open_at:]).get(0)
    return None if close is None else text[open_at + 1 : open_at + close]


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
_BOX_TOKEN_RE = re.compile(r"[^\s$]+")


def boxed_spans(text: str) -> list[tuple[int, int, int]]:
    """(start of the \\boxed, start, end of its content) of every box, in order; linear in the text,
    so a reply of many unclosed boxes costs one pass, not one pass per box."""
    found = []
    pairs: dict[int, int] | None = None
    n = len(text)
    for m in _BOX_RE.finditer(text):
        j = m.end()
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == "{":
            if pairs is None:
                pairs = _brace_pairs(text)
            close = pairs.get(j)
            if close is not None:
                found.append((m.start(), j + 1, close))
        elif j > m.end():  # "\\boxed 5": one token, as in some MATH solutions
            tok = _BOX_TOKEN_RE.match(text, j)
            if tok:
                end = tok.end()
                while end > j and text[end - 1] in ".,":
                    end -= 1
                if end > j:
                    found.append((m.start(), j, end))
    return found


def all_boxed(text: str) -> list[str]:
    """Contents of every \\boxed{...} / \\fbox{...} (also '\\boxed 5'), in order."""
    return [text[a:b].strip() for _, a, b in boxed_spans(text)]


def last_boxed(text: str) -> str | None:
    spans = boxed_spans(text)
    return text[spans[-1][1] : spans[-1][2]].strip() if spans else None


# ---------------------------------------------------------------- math

# Possessive quantifiers (`*+`): adjacent optional whitespace must not backtrack, or a
# reply of long blank runs costs seconds per match.
_ANSWER_IS_RES = [
    re.compile(r"####\s*+(.+)"),
    re.compile(r"final\s++answer\s*+(?:is\s*+)?[:：]\s*+(.+)", re.I),
    re.compile(r"(?:the\s+)?(?:final\s+)?answer\s++is\s*+(?:[:：]\s*+)?(.+)", re.I),
    re.compile(r"^[ \t]*+\**+answer\**+[ \t]*+[:：]\s*+\**+(.+)", re.I | re.M),
]
_NUMBER_RE = re.compile(r"-?\d[\d,]*+(?:\.\d+)?|-?\.\d+")
_BOM_RE = re.compile("^\ufeff+", re.M)


def strip_bom(text: str) -> str:
    """Without byte-order marks at the start of the text or of a line (some clients prepend one)."""
    return _BOM_RE.sub("", text) if "\ufeff" in text else text


# A number stated with one of these around it is not stated as the answer: "not 18",
# "at least 18", "\geq 18", "18 \le x", "about 18". Hedge words count where they lead
# (or close) the answer ("18, not 17" still states 18); relations count anywhere.
_HEDGE_WORDS = (
    r"not|isn'?t|is\s+not|never|neither|nor|cannot\s+be|can'?t\s+be|unequal\s+to|different\s+from|other\s+than"
    r"|except|at\s+least|at\s+most|no\s+(?:more|less|fewer)\s+than|(?:more|less|fewer|greater|smaller|larger"
    r"|bigger|higher|lower)\s+than|up\s+to|about|around|approx(?:imately|\.)?|roughly|nearly|almost|close\s+to"
    r"|circa|over|under|above|below|exceeds?|maybe|perhaps|probably|possibly|likely|unlikely|estimated|somewhere"
)
# the hedges that may also come right before an answer stated elsewhere ("x is not \boxed{18}")
_LEAD_WORDS = _HEDGE_WORDS.replace("|over|under|above|below", "")
_TRAIL_WORDS = r"or\s+(?:more|less|fewer|greater|higher|lower|so|above|below)|and\s+(?:up|above|over)|at\s+(?:least|most)" \
               r"|approximately|roughly|or\s+thereabouts"
_RELATIONS = (
    r"\\(?:neq?|not|ngtr|nless|geq?|leq?|geqslant|leqslant|gt|lt|gg|ll|approx|sim|simeq|cong|propto|gtrsim"
    r"|lesssim|pm|mp)(?![A-Za-z])|!=|>=|<=|[<>≤≥≠≈≃≅∼±∓≲≳≪≫]|(?<![\w}])~(?=\s*[\d.\\])"
)
_TAG_RE = re.compile(r"</?[A-Za-z][\w:-]*\s*/?>")  # "<answer>18</answer>": markup, not a relation
_OPEN = r"(?:\s|\$|\\\(|\\\[|\\text\s*\{|\\mathrm\s*\{|[({\[])*+"
_CLOSE = r"(?:\s|\$|\\\)|\\\]|[.,;)}\]])*+"
_RELATION_RE = re.compile(_RELATIONS)
_LEADING_RE = re.compile(rf"^{_OPEN}(?:(?:it|this|that|x|the\s+answer)\s+)?(?:is\s+)?(?:{_HEDGE_WORDS})(?![A-Za-z])", re.I)
_TRAILING_RE = re.compile(rf"(?<![A-Za-z])(?:{_TRAIL_WORDS}){_CLOSE}$", re.I)
_BEFORE_RE = re.compile(
    rf"(?:(?<![A-Za-z])(?:{_LEAD_WORDS})(?:\s+(?:equal\s+to|exactly|quite|just))?|{_RELATIONS}){_OPEN}$", re.I)
_AFTER_RE = re.compile(rf"^{_CLOSE}(?:{_RELATIONS}|(?:{_TRAIL_WORDS})(?![A-Za-z]))", re.I)
_CONTEXT = 48  # characters looked at on each side of a stated answer


def hedge(text: str) -> str | None:
    """The negation, hedge or relation that keeps `text` from stating a plain value
    ("not 18" -> "not", "x \\geq 18" -> "\\geq", "18 or more" -> "or more"), or None."""
    text = _TAG_RE.sub(" ", text)
    for m in (_RELATION_RE.search(text), _LEADING_RE.search(text), _TRAILING_RE.search(text)):
        if m:
            return m.group(0).strip(" $({[") or m.group(0)
    return None


def _with_hedge(value: str, text: str, start: int, end: int) -> str:
    """`value` (stated at text[start:end]) with a hedge or relation right around it on its line kept,
    so it no longer reads as the plain answer: "not \\boxed{18}" -> "not 18"."""
    lo = max(text.rfind("\n", max(0, start - _CONTEXT), start) + 1, start - _CONTEXT)
    before = _BEFORE_RE.search(_TAG_RE.sub(" ", text[lo:start]))
    nl = text.find("\n", end, end + _CONTEXT)
    after = _AFTER_RE.match(_TAG_RE.sub(" ", text[end : nl if nl >= 0 else end + _CONTEXT]))
    parts = [before.group(0).strip(" \t$({[") if before else "", value, after.group(0).strip(" \t$)}].,;") if after else ""]
    return " ".join(x for x in parts if x)


def _clean_answer_text(s: str) -> str:
    s = s.strip().split("\n")[0].strip()
    s = s.strip("*").strip().rstrip(" .")
    # Drop surrounding math delimiters and a sentence-final period.
    for a, b in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(a) and s.endswith(b) and len(s) >= len(a) + len(b):
            s = s[len(a) : len(s) - len(b)].strip()
    s = s.rstrip(" .")
    if s.endswith("$") and s.count("$") == 1:
        s = s[:-1].rstrip(" .")
    if s.startswith("$") and s.count("$") == 1:
        s = s[1:].strip()
    return s.strip("*").strip()


def extract_math(reply: str) -> Extracted:
    """Final answer of a math reply: last \\boxed{}, else "answer is X", else last number.

    A negation, hedge or relation right around the answer stays in the value
    ("not 18", "\\geq 18", "18 \\le x"), so the grader sees it was not stated plainly."""
    if not reply:
        return NONE
    reply = strip_bom(reply)
    spans = boxed_spans(reply)
    if spans:
        box, a, b = spans[-1]
        boxed = reply[a:b].strip()
        if boxed:
            return Extracted(_with_hedge(boxed, reply, box, b + (reply[b : b + 1] == "}")), "boxed")
    best: tuple[int, str] | None = None
    for rx in _ANSWER_IS_RES:
        for m in rx.finditer(reply):
            val = _clean_answer_text(m.group(1))
            if val.startswith(("\\boxed", "\\fbox")):
                inner = last_boxed(val)
                if inner is not None:
                    val = inner.strip()  # "the answer is \boxed{}" states an empty answer: no answer
            if val and (best is None or m.start() > best[0]):
                best = (m.start(), val)
    if best is not None:
        return Extracted(best[1], "answer_is")
    last = None
    for last in _NUMBER_RE.finditer(reply):
        pass
    if last is not None:
        num = last.group(0).rstrip(",") or last.group(0)
        return Extracted(_with_hedge(num, reply, last.start(), last.end()), "last_number")
    return NONE


# ---------------------------------------------------------------- numbers

_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
# (?<![\d.,]): a run of digit groups is tried from its start only, so a long "1,234,567,..." is one pass
_THOUSANDS_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})++)(?![\d,])")
_PLAIN_NUMBER_RE = re.compile(r"-?\s?(?:\d++(?:\.\d*+)?|\.\d++)")


def normalize_number(s: str | None) -> str | None:
    """Canonical text of a single plain number in `s`, or None.

    Strips $, thousands commas, units/words, percent signs and trailing zeros:
    "$1,000.00" -> "1000", "50%" -> "50", "18 dollars" -> "18", "-0.50" -> "-0.5".
    Returns None when `s` holds no number or more than one (e.g. "(1, 2)"), or
    states it with a negation, hedge or relation ("not 18", "about 18", "\\geq 18").
    Numbers of any length: the text is canonicalised as text, never through int().
    """
    if s is None:
        return None
    t = _TEXT_WRAP_RE.sub(r" \1 ", s)
    t = t.replace("\\$", " ").replace("$", " ").replace("\\%", " ").replace("%", " ")
    t = t.replace("\\!", "").replace("\\,", "").replace("{,}", ",")
    t = _THOUSANDS_RE.sub(lambda m: m.group(1).replace(",", ""), t)
    t = t.replace("\u2212", "-")  # unicode minus
    if hedge(t):
        return None
    nums = _PLAIN_NUMBER_RE.findall(t)
    if len(nums) != 1:
        # "3/4" style simple fractions are still one number.
        frac = re.fullmatch(r"\s*(-?\d+)\s*/\s*(\d+)\s*", t)
        if frac and frac.group(2).strip("0"):
            return _canon(Decimal(frac.group(1)) / Decimal(frac.group(2)))
        return None
    rest = t.replace(nums[0], " ", 1)
    # Other math in the string (x, ^, \frac, ...) means it is not a plain number.
    if re.search(r"[\\^_=/*+()\[\]{}<>|]", rest):
        return None
    return _canon_text(nums[0].replace(" ", ""))


def _canon_text(num: str) -> str:
    """"-007.50" -> "-7.5", "0.0" -> "0": digits kept exactly, however many."""
    sign = "-" if num.startswith("-") else ""
    whole, _, frac = num.lstrip("-").partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    text = whole + ("." + frac if frac else "")
    return "0" if text == "0" else sign + text


def _canon(d: Decimal) -> str:
    return _canon_text(format(d, "f"))


# ---------------------------------------------------------------- multiple choice


def _letters(n: int) -> str:
    return "ABCDEFGHIJ"[: max(1, min(n, 10))]


def extract_choice(reply: str, choices: list[str] | None = None, n_choices: int | None = None) -> Extracted:
    """The option letter a reply commits to.

    Order: \\boxed{C}; an answer statement ("Answer: C", "the answer is (C)");
    a line holding only the letter; a unique "C)"/"C." line opener, bold or
    parenthesised letter; finally the text of exactly one option (flagged
    "option_text"). Bare capitals in running prose (the article "A") never count.
    """
    if not reply:
        return NONE
    reply = strip_bom(reply)
    n = n_choices or (len(choices) if choices else 4)
    L = _letters(n)
    cls = f"[{L}]"
    # Letter not glued to other letters/digits: rejects "Ab", "A1", "AB".
    solo = rf"({cls})(?![A-Za-z0-9])"
    any_case = re.compile(rf"([{L}{L.lower()}])(?![A-Za-z0-9])")

    for _, a, b in reversed(boxed_spans(reply)):
        if b - a > 64:  # a letter, perhaps in \text{} and parentheses, is short
            continue
        inner = _TEXT_WRAP_RE.sub(r"\1", reply[a:b]).strip().strip("()").strip()
        m = any_case.match(inner)
        if m:
            return Extracted(m.group(1).upper(), "boxed")

    # "option C" alone is not a commitment ("option A is wrong"), so the keyword must be
    # "answer", "correct/best option" or "I choose". The filler between keyword and letter
    # is possessive (*+): long runs of spaces or colons must not backtrack.
    hits = []
    for m in _STMT_RE.finditer(reply):
        letter = m.group(1)
        if letter.upper() not in L:
            continue
        # a lower-case letter counts only where it ends the statement ("answer: b", "(b)"),
        # never as a word in prose ("the answer is a bit unclear")
        if letter.islower() and not (_LOWER_END_RE.match(reply, m.end())
                                     or (reply[m.start(1) - 1 : m.start(1)] in "([" and reply[m.end() : m.end() + 1] in ")]")):
            continue
        hits.append(letter.upper())
    if hits:
        return Extracted(hits[-1], "answer_is")

    lone = re.compile(rf"[ \t\r>#*]*+(?:option\s+)?[(\[]?[ \t]*+({cls})[ \t]*+[)\]]?[.:]?[ \t\r*]*+", re.I)
    lone_hits = [m.group(1).upper() for m in map(lone.fullmatch, reply.split("\n")) if m]
    if lone_hits:
        return Extracted(lone_hits[-1], "letter")

    # Forms that also appear when a model merely lists the options, so they
    # only count when a single letter is used that way.
    for rx in (
        re.compile(rf"\*\*[ \t]*+[\(\[]?({cls})[\)\]]?[\.:]?[ \t]*+\*\*"),
        re.compile(rf"^[ \t]*+[\(\[]?({cls})[\)\]\.:]\s+\S", re.M),
        re.compile(rf"\(({cls})\)"),
    ):
        letters = {m.group(1) for m in rx.finditer(reply)}
        if len(letters) == 1:
            return Extracted(letters.pop(), "letter")

    if choices:
        return _match_option_text(reply, choices)
    return NONE


_STMT_RE = re.compile(
    r"(?:answer|(?:correct|best|right)\s+(?:option|choice)|I\s+(?:choose|pick|select))"
    r"(?:[\s:：\-–=*\[(]|is\b|would\s+be\b|should\s+be\b|option\b|choice\b)*+"
    r"([A-Ja-j])(?![A-Za-z0-9])",
    re.I,
)
_LOWER_END_RE = re.compile(r"[)\]*]*+[ \t]*+[.!]?[ \t*]*+(?:\r?\n|$)")


def _norm_text(s: str) -> str:
    s = re.sub(r"\s+", " ", s.casefold()).strip()
    return s.rstrip(".").strip()


def _match_option_text(reply: str, choices: list[str]) -> Extracted:
    text = _norm_text(reply)
    opts = [(i, _norm_text(str(c))) for i, c in enumerate(choices)]
    covered: list[tuple[int, int]] = []
    hits: dict[int, int] = {}
    # Longest options first; a shorter option inside a longer one's match
    # ("True" in "True, True") is not separate evidence.
    for i, opt in sorted((o for o in opts if o[1]), key=lambda o: -len(o[1])):
        pat = r"(?<![\w])" + re.escape(opt) + r"(?![\w])"
        spans = []
        for m in re.finditer(pat, text):
            sp = m.span()
            if not any(a <= sp[0] and sp[1] <= b for a, b in covered):
                spans.append(sp)
                if len(spans) > 1 or len(hits) > 0:
                    return NONE  # named twice, or two options named: no single choice (stop: stays linear)
        if spans:
            hits[i] = len(spans)
            covered.extend(spans)
    if len(hits) == 1:
        (i, count), = hits.items()
        if count == 1:  # named repeatedly suggests discussion rather than a choice
            return Extracted(_letters(len(choices))[i], "option_text")
    return NONE


# ---------------------------------------------------------------- code

# Bounded, possessive info string: a line of many "```" costs one pass, not one per backtick.
_FENCE_RE = re.compile(r"```[ \t]*+([A-Za-z0-9_+\-]{0,40}+)[^\n]{0,200}+\n(.*?)(?:```|\Z)", re.S)
_PY_LANGS = {"", "python", "py", "python3", "py3"}
_IMPORT_RE = re.compile(r"^(?:import\s+\S|from\s+\S+\s+import\s)")
_CODE_START_RE = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)", re.M)
_ANY_DEF_RE = re.compile(r"^[ \t]*+(?:async\s+)?def\s", re.M)
# Trailing prose is cut one line at a time until the code parses: at most this many tries
# (each parse reads the whole chunk; unbounded, a long reply costs lines x size).
_MAX_TRIMS = 40
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)  # deep nesting: the last two


def parses(code: str) -> bool:
    """True when `code` is valid Python; never raises (deeply nested code just does not parse)."""
    try:
        ast.parse(code)
    except PARSE_ERRORS:
        return False
    return True


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^[ \t]*+(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _import_lines(code: str) -> list[str]:
    return [ln for ln in code.splitlines() if _IMPORT_RE.match(ln)]


def extract_code(reply: str, entry_point: str | None = None) -> str | None:
    """Python code from a reply.

    Prefers fenced python blocks (the last one defining `entry_point` when
    several do), adding top-level imports from the other blocks; else bare
    code starting at def/import/from/class, trimmed of trailing prose.
    Returns None when the reply holds no code. Byte-order marks at line
    starts are dropped (Python refuses them inside a file).
    """
    if not reply:
        return None
    reply = strip_bom(reply)
    blocks = [b.strip("\n") for lang, b in _FENCE_RE.findall(reply) if lang.lower() in _PY_LANGS]
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        chosen = _pick_block(blocks, entry_point)
        own = set(_import_lines(chosen))
        extra = [ln for b in blocks if b is not chosen for ln in _import_lines(b) if ln not in own]
        extra = list(dict.fromkeys(extra))
        return ("\n".join(extra) + "\n\n" + chosen).strip("\n") + "\n" if extra else chosen.rstrip() + "\n"
    return _bare_code(reply)


def _pick_block(blocks: list[str], entry_point: str | None) -> str:
    if entry_point:
        defining = [b for b in blocks if _defines(b, entry_point)]
        if defining:
            return defining[-1]
    with_def = [b for b in blocks if _ANY_DEF_RE.search(b)]
    if with_def:
        return max(with_def, key=len)
    return max(blocks, key=len)


def _bare_code(reply: str) -> str | None:
    m = _CODE_START_RE.search(reply)
    if not m:
        return None
    lines = reply[m.start() :].splitlines()
    # Drop trailing prose one line at a time until the rest parses.
    tries = 0
    for end in range(len(lines), 0, -1):
        chunk = "\n".join(lines[:end]).rstrip()
        if not chunk:
            continue
        if parses(chunk):
            return chunk + "\n"
        tries += 1
        if tries >= _MAX_TRIMS:
            break
    return "\n".join(lines).rstrip() + "\n"

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


def _balanced(text: str, open_at: int) -> str | None:
    """Content of the brace group starting at text[open_at] == '{' (nesting aware)."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "\\":  # skip escaped braces like \{ so they don't count
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None  # unbalanced: the reply was probably cut off


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")


def all_boxed(text: str) -> list[str]:
    """Contents of every \\boxed{...} / \\fbox{...} (also '\\boxed 5'), in order."""
    found = []
    for m in _BOX_RE.finditer(text):
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            inner = _balanced(text, j)
            if inner is not None:
                found.append(inner.strip())
        elif j > m.end():  # "\boxed 5": one token, as in some MATH solutions
            tok = re.match(r"[^\s$]+", text[j:])
            if tok:
                found.append(tok.group(0).rstrip(".,"))
    return found


def last_boxed(text: str) -> str | None:
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


# ---------------------------------------------------------------- math

_ANSWER_IS_RES = [
    re.compile(r"####\s*(.+)"),
    re.compile(r"final\s+answer\s*(?:is)?\s*[:：]\s*(.+)", re.I),
    re.compile(r"(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?\s*(.+)", re.I),
    re.compile(r"^\s*\**answer\**\s*[:：]\s*\**(.+)", re.I | re.M),
]
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


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
    """Final answer of a math reply: last \\boxed{}, else "answer is X", else last number."""
    if not reply:
        return NONE
    boxed = last_boxed(reply)
    if boxed is not None and boxed.strip() != "":
        return Extracted(boxed, "boxed")
    best: tuple[int, str] | None = None
    for rx in _ANSWER_IS_RES:
        for m in rx.finditer(reply):
            val = _clean_answer_text(m.group(1))
            inner = last_boxed(val)
            if inner is not None and val.startswith(("\\boxed", "\\fbox")):
                val = inner.strip()  # "the answer is \boxed{}" states an empty answer: no answer
            if val and (best is None or m.start() > best[0]):
                best = (m.start(), val)
    if best is not None:
        return Extracted(best[1], "answer_is")
    nums = _NUMBER_RE.findall(reply)
    if nums:
        return Extracted(nums[-1].rstrip(",") or nums[-1], "last_number")
    return NONE


# ---------------------------------------------------------------- numbers

_TEXT_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")
_THOUSANDS_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")


def normalize_number(s: str | None) -> str | None:
    """Canonical text of a single plain number in `s`, or None.

    Strips $, thousands commas, units/words, percent signs and trailing zeros:
    "$1,000.00" -> "1000", "50%" -> "50", "18 dollars" -> "18", "-0.50" -> "-0.5".
    Returns None when `s` holds no number or more than one (e.g. "(1, 2)").
    """
    if s is None:
        return None
    t = _TEXT_WRAP_RE.sub(r" \1 ", s)
    t = t.replace("\\$", " ").replace("$", " ").replace("\\%", " ").replace("%", " ")
    t = t.replace("\\!", "").replace("\\,", "").replace("{,}", ",")
    t = _THOUSANDS_RE.sub(lambda m: m.group(1).replace(",", ""), t)
    t = t.replace("\u2212", "-")  # unicode minus
    nums = re.findall(r"-?\s?(?:\d+(?:\.\d*)?|\.\d+)", t)
    if len(nums) != 1:
        # "3/4" style simple fractions are still one number.
        frac = re.fullmatch(r"\s*(-?\d+)\s*/\s*(\d+)\s*", t)
        if frac and int(frac.group(2)) != 0:
            return _canon(Decimal(frac.group(1)) / Decimal(frac.group(2)))
        return None
    rest = t.replace(nums[0], " ", 1)
    # Other math in the string (x, ^, \frac, ...) means it is not a plain number.
    if re.search(r"[\\^_=/*+()\[\]{}<>|]", rest):
        return None
    try:
        return _canon(Decimal(nums[0].replace(" ", "")))
    except InvalidOperation:
        return None


def _canon(d: Decimal) -> str:
    if d == d.to_integral_value():
        return str(int(d))
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "0") else text


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
    n = n_choices or (len(choices) if choices else 4)
    L = _letters(n)
    cls = f"[{L}]"
    # Letter not glued to other letters/digits: rejects "Ab", "A1", "AB".
    solo = rf"({cls})(?![A-Za-z0-9])"

    for box in reversed(all_boxed(reply)):
        inner = _TEXT_WRAP_RE.sub(r"\1", box).strip().strip("()").strip()
        m = re.match(solo, inner)
        if m:
            return Extracted(m.group(1), "boxed")

    # "option C" alone is not a commitment ("option A is wrong"), so the
    # keyword must be "answer", "correct/best option" or "I choose".
    stmt = re.compile(
        r"(?:answer|(?:correct|best|right)\s+(?:option|choice)|I\s+(?:choose|pick|select))"
        r"\s*(?:is|would be|should be|=)?\s*[:：\-–]?\s*(?:option|choice)?\s*[:：\-–]?\s*"
        r"[\*\s]*[\(\[]?\s*" + solo,
        re.I,
    )
    hits = [m for m in stmt.finditer(reply) if m.group(1) in L]
    if hits:
        return Extracted(hits[-1].group(1), "answer_is")

    lone = re.compile(rf"^[\s>#\*]*(?:option\s+)?[\(\[]?\s*({cls})\s*[\)\]]?[\.:]?[\s\*]*$", re.I | re.M)
    lone_hits = [m.group(1) for m in lone.finditer(reply) if m.group(1) in L]
    if lone_hits:
        return Extracted(lone_hits[-1], "letter")

    # Forms that also appear when a model merely lists the options, so they
    # only count when a single letter is used that way.
    for rx in (
        re.compile(rf"\*\*\s*[\(\[]?({cls})[\)\]]?[\.:]?\s*\*\*"),
        re.compile(rf"^\s*[\(\[]?({cls})[\)\]\.:]\s+\S", re.M),
        re.compile(rf"\(({cls})\)"),
    ):
        letters = {m.group(1) for m in rx.finditer(reply)}
        if len(letters) == 1:
            return Extracted(letters.pop(), "letter")

    if choices:
        return _match_option_text(reply, choices)
    return NONE


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
        spans = [m.span() for m in re.finditer(pat, text)]
        spans = [sp for sp in spans if not any(a <= sp[0] and sp[1] <= b for a, b in covered)]
        if spans:
            hits[i] = len(spans)
            covered.extend(spans)
    if len(hits) == 1:
        (i, count), = hits.items()
        if count == 1:  # named repeatedly suggests discussion rather than a choice
            return Extracted(_letters(len(choices))[i], "option_text")
    return NONE


# ---------------------------------------------------------------- code

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PY_LANGS = {"", "python", "py", "python3", "py3"}
_IMPORT_RE = re.compile(r"^(?:import\s+\S|from\s+\S+\s+import\s)")
_CODE_START_RE = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)", re.M)


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _import_lines(code: str) -> list[str]:
    return [ln for ln in code.splitlines() if _IMPORT_RE.match(ln)]


def extract_code(reply: str, entry_point: str | None = None) -> str | None:
    """Python code from a reply.

    Prefers fenced python blocks (the last one defining `entry_point` when
    several do), adding top-level imports from the other blocks; else bare
    code starting at def/import/from/class, trimmed of trailing prose.
    Returns None when the reply holds no code.
    """
    if not reply:
        return None
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
    with_def = [b for b in blocks if re.search(r"^\s*(?:async\s+)?def\s", b, re.M)]
    if with_def:
        return max(with_def, key=len)
    return max(blocks, key=len)


def _bare_code(reply: str) -> str | None:
    m = _CODE_START_RE.search(reply)
    if not m:
        return None
    lines = reply[m.start() :].splitlines()
    # Drop trailing prose one line at a time until the rest parses.
    for end in range(len(lines), 0, -1):
        chunk = "\n".join(lines[:end]).rstrip()
        if not chunk:
            continue
        try:
            ast.parse(chunk)
        except (SyntaxError, ValueError):
            continue
        return chunk + "\n"
    return "\n".join(lines).rstrip() + "\n"

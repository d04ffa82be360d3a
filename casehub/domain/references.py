"""Case references (case numbers of every agency) in a comparable form.

Agencies type each other's numbers by hand: full-width digits, one of several bracket styles, stray
spaces, a sequence number with or without 第 before it and 号 after it. Two references match when their
normalised forms are equal, whatever the kind the referring agency gave them (a commission may file a
mediation number as "prior case"): the number is what identifies.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKET_PAIRS = (
    ("（", "("),
    ("）", ")"),
    ("〔", "("),
    ("〕", ")"),
    ("［", "("),
    ("］", ")"),
    ("【", "("),
    ("】", ")"),
    ("[", "("),
    ("]", ")"),
)
# 第 before a sequence number ("...〔2024〕第123号") and 号 closing it are written or left out at will.
_ORDINAL = re.compile(r"第(?=\d)")


def normalise_number(number: str) -> str:
    """Case number in a comparable form: NFKC (full-width to half-width), one bracket style, no spaces,
    upper case, no 第 before a sequence number and no closing 号.

    >>> normalise_number("沈劳人仲案字〔２０２４〕第 123号") == normalise_number("沈劳人仲案字[2024]123")
    True
    """
    text = unicodedata.normalize("NFKC", number)
    # str.translate looks every character up in the table; most numbers hold one or two bracket pairs,
    # and a search per bracket kind is several times cheaper (each replacement yields a plain "(" or ")",
    # never another bracket kind, so the result is the same)
    for bracket, plain in _BRACKET_PAIRS:
        if bracket in text:
            text = text.replace(bracket, plain)
    # split() drops the same Unicode whitespace as re's \s, at a fraction of the cost
    text = "".join(text.split()).upper()
    if "第" in text:
        text = _ORDINAL.sub("", text)
    return text[:-1] if text.endswith("号") else text


# Shorter numbers are too generic to link on ("1", "A-12"): they are kept on the case but match nothing.
MIN_LINKING_LENGTH = 6


def ref_key(ref: dict) -> str | None:
    """What a reference links on: its number normalised now (not the form the event carries, which an older
    rule may have made), or None for a number too short to identify a case."""
    key = normalise_number(ref["number"])
    return key if len(key) >= MIN_LINKING_LENGTH else None

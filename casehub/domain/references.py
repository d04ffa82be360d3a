"""Case references (case numbers of every agency) in a comparable form.

Agencies type each other's numbers by hand: full-width digits, one of several bracket styles, stray spaces.
Two references match when their normalised forms are equal.
"""

from __future__ import annotations

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


def normalise_number(number: str) -> str:
    """Case number in a comparable form: NFKC (full-width to half-width), one bracket style, no spaces."""
    text = unicodedata.normalize("NFKC", number)
    # str.translate looks every character up in the table; most numbers hold one or two bracket pairs,
    # and a search per bracket kind is several times cheaper (each replacement yields a plain "(" or ")",
    # never another bracket kind, so the result is the same)
    for bracket, plain in _BRACKET_PAIRS:
        if bracket in text:
            text = text.replace(bracket, plain)
    return "".join(
        text.split()
    ).upper()  # split() drops the same Unicode whitespace as re's \s, at a fraction of the cost


def ref_key(ref: dict) -> tuple[str, str]:
    return ref["kind"], ref.get("normalised") or normalise_number(ref["number"])

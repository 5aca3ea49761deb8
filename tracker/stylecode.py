"""Finding New Balance 2002R style codes (M2002RDA, ML2002R1, U2002RHO...) in text."""

from __future__ import annotations

import re

# A 2002R style code: an optional gender/fit prefix, 2002R, then one to three letters or
# digits (colour code). Bounded so "M2002RDA-10" or "m2002rda_d" still match the code part.
_STYLE_RE = re.compile(r"(?<![A-Z0-9])((?:M|ML|U|W|WL|GC|PC|IV)2002R[A-Z0-9]{1,3})(?![A-Z0-9])", re.I)
_MODEL_RE = re.compile(r"2002\s*-?\s*R\b", re.I)


def find_style_code(*texts: str | None) -> str | None:
    """The first 2002R style code found in any of the texts, upper-cased, or None."""
    for text in texts:
        if not text:
            continue
        match = _STYLE_RE.search(text)
        if match:
            return match.group(1).upper()
    return None


def mentions_2002r(*texts: str | None) -> bool:
    """Whether any text names the 2002R model (title, handle, tags)."""
    return any(t and (_MODEL_RE.search(t) or find_style_code(t)) for t in texts)

"""Recognising bot challenges, captchas and access-denied pages served instead of a product."""

from __future__ import annotations

import re

# Markers only a challenge page carries (a real product page never does).
_CHALLENGE = (
    "<title>just a moment...</title>",
    "<title>just a moment…</title>",
    "cf-browser-verification",
    "cf_chl_opt",
    "/cdn-cgi/challenge-platform/h/",
    "checking your browser before accessing",
    "attention required! | cloudflare",
    "_incapsula_resource",
    "incapsula incident id",
    "pardon our interruption",
    "<title>one more step</title>",
    "/_sec/cp_challenge/",
    "sec-if-cpt-container",
    "kpsdk",
    "please enable js and disable any ad blocker",
)
_CAPTCHA = (
    "captcha-delivery.com",
    "px-captcha",
    "_pxcaptcha",
    "enter the characters you see below",
    "/errors/validatecaptcha",
    "robot check</title>",
    "are you a robot",
    "verify you are human",
    "press & hold",
    "i'm not a robot",
)
_DENIED = (
    "<title>access denied</title>",
    "you don't have permission to access",
    "you do not have permission to access",
    "<title>403 forbidden</title>",
    "request unsuccessful",
    "the requested url was rejected",
    "<title>error 403",
    "<title>attention required",
    "sorry, you have been blocked",
)
_GENERIC_CAPTCHA = re.compile(r"g-recaptcha|h-captcha|hcaptcha\.com|recaptcha/api", re.I)
# A real product page is large and carries product data; challenge pages are small.
_SMALL_PAGE = 60_000
# Each starts with a character that has no case, so the engine skips to it instead of trying the
# words at every position of the page; "itemtype" is checked just before a match of the second.
_JSONLD_PRODUCT = re.compile(r'"@type"\s*:\s*"product"', re.I)
_SCHEMA_PRODUCT = re.compile(r'="https?://schema\.org/product', re.I)
_ITEMTYPE = re.compile("itemtype", re.I)


def _product_hints(text: str) -> bool:
    """Whether the text declares a schema.org Product (JSON-LD "@type": "Product", or an itemtype)."""
    if _JSONLD_PRODUCT.search(text):
        return True
    return any(_ITEMTYPE.fullmatch(text, m.start() - 8, m.start()) for m in _SCHEMA_PRODUCT.finditer(text))


def detect_block(text: str, status_code: int | None = None) -> str | None:
    """'challenge', 'captcha' or 'access_denied' when the page is a block page, else None."""
    if not text:
        return "access_denied" if status_code in (401, 403) else None
    # Block pages put their markers early; a long product page is only scanned at its head.
    head = text[:30_000].lower() if len(text) > _SMALL_PAGE else text.lower()
    small = len(text) <= _SMALL_PAGE
    has_product = _product_hints(head if not small else text)
    if has_product and not small:
        return None  # every rule below wants a small page or one without product data
    for marker in _CAPTCHA:
        if marker in head and (small or not has_product):
            return "captcha"
    for marker in _CHALLENGE:
        if marker in head and (small or not has_product):
            return "challenge"
    for marker in _DENIED:
        if marker in head and (small or not has_product):
            return "access_denied"
    if small and not has_product and _GENERIC_CAPTCHA.search(text) and "price" not in head:
        return "captcha"
    if status_code in (401, 403) and not has_product:
        return "access_denied"
    if status_code in (429, 503) and small and not has_product:
        return "challenge"
    return None

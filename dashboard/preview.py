"""Preview of a shop URL before it is added: a plain fetch, then the tracker's extractor."""

from __future__ import annotations

from typing import Any

import httpx

PREVIEW_TIMEOUT = 15.0
PREVIEW_MAX_BYTES = 8_000_000


def fetch_preview(url: str, user_agent: str) -> dict[str, Any]:
    """Fetch url (15 s, 8 MB at most) and run the extractor on it; errors are part of the answer."""
    try:
        from tracker.extract import extract_body
    except ImportError:
        return {"error": "Preview is not available in this version: the extractor is missing."}
    try:
        with httpx.stream(
            "GET",
            url,
            timeout=PREVIEW_TIMEOUT,
            headers={"User-Agent": user_agent},
            follow_redirects=True,
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > PREVIEW_MAX_BYTES:
                    return {"error": f"The page is larger than {PREVIEW_MAX_BYTES // 1_000_000} MB."}
                chunks.append(chunk)
            status = response.status_code
            content_type = response.headers.get("content-type")
            final_url = str(response.url)
    except httpx.HTTPError as exc:
        return {"error": f"Could not fetch the page: {type(exc).__name__}: {exc}"}
    if status >= 400:
        return {"error": f"The shop answered HTTP {status}."}
    try:
        products = extract_body(b"".join(chunks), url=final_url, content_type=content_type)
    except Exception as exc:  # the extractor's verdict on an unknown page is shown, never raised
        return {"error": f"Nothing could be read there: {exc}"}
    return {"products": [p.to_json() for p in products[:50]]}

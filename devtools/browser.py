"""Debian's Chromium driven by Playwright for Python (no browser download): the browser tests, the
screenshots in docs/ and the digest's layout figures.

``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`` is set by the Makefile; Playwright is pointed at ``/usr/bin/chromium``
(Debian package ``chromium``, installed by ``make setup`` where missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("VCAUDIT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def unavailable() -> str | None:
    """Why the browser cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (Debian package chromium; make setup installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (requirements-dev.txt)"
    return None


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def layout(html: Path, needle: str, *, width: int = 760, height: int = 900) -> tuple[float, float]:
    """(top of the first element whose text contains ``needle``, the page's full height), in CSS pixels."""
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.goto(html.resolve().as_uri())
        box = page.get_by_text(needle, exact=False).first.bounding_box()
        full = float(page.evaluate("document.documentElement.scrollHeight"))
        page.close()
    if box is None:
        raise LookupError(f"{needle!r} is not shown in {html}")
    return float(box["y"]), full


def screenshot(url: str, png: Path, *, width: int = 760, height: int = 900, full_page: bool = True) -> None:
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png), full_page=full_page)
        page.close()

"""``check_page``: what every page owes its reader, for the browser tests to import by a name of its own
(``from browsercheck import check_page``) — ``from conftest import`` finds whichever conftest pytest loaded last."""

from __future__ import annotations

import re
from typing import Any

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def check_page(page: Any, *, forbidden: tuple[str, ...] = ()) -> None:
    """What every page owes its reader (issue 17): names, never UUIDs, in the visible text; no horizontal scrolling
    (on a phone viewport this is the test that matters); every form control labelled; none of ``forbidden`` (e.g.
    police-only text, for an education user) anywhere in the HTML."""
    text = page.inner_text("body")
    assert not UUID_TEXT.search(text), f"a UUID on screen at {page.url}: {UUID_TEXT.search(text).group(0)}"
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll <= client, f"{page.url} scrolls sideways: {scroll} > {client}"
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter(e => !['hidden', 'submit', 'button'].includes(e.type))
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.title)
              .map(e => e.name || e.id || e.outerHTML.slice(0, 80))"""
    )
    assert not unlabelled, f"controls without a label at {page.url}: {unlabelled}"
    html = page.content()
    for secret in forbidden:
        assert secret not in html, f"{secret!r} reached {page.url}"

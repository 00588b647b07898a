"""The UI's Thai and English strings: one file, static/i18n.json, read by pages and JS.

Thai is the default; the choice is kept in the ``sz_lang`` cookie.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Final

from starlette.requests import Request

from safezone.web import STATIC_DIR

LANGS: Final = ("th", "en")
DEFAULT_LANG: Final = "th"
LANG_COOKIE: Final = "sz_lang"
I18N_FILE: Final = STATIC_DIR / "i18n.json"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    """Every language's strings, keyed by language then message key."""
    data = json.loads(I18N_FILE.read_text(encoding="utf-8"))
    return {lang: {str(k): str(v) for k, v in data[lang].items()} for lang in LANGS}


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGS else DEFAULT_LANG


def translate(lang: str, key: str, **params: object) -> str:
    """The string for ``key`` in ``lang`` (falling back to Thai, then the key itself),
    with ``{name}`` placeholders filled from ``params``."""
    strings = catalog()
    text = strings.get(lang, {}).get(key) or strings[DEFAULT_LANG].get(key) or key
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text

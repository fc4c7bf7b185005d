"""Messages in English, Dutch and Swedish: one catalogue per language and area.

Catalogues are JSON files `northstar/i18n/<lang>/<area>.json` mapping a key to a text; the
texts of all areas of a language are merged. A text may hold `{name}` fields, filled by
`t(key, lang, name=...)`. A key missing in a language falls back to English, and a key
missing in English is an error in tests (`missing_keys`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES: tuple[str, ...] = ("en", "nl", "sv")
DEFAULT = "en"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every text of a language (all areas merged)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language '{lang}': use one of {', '.join(LANGUAGES)}")
    out: dict[str, str] = {}
    folder = resources.files("northstar.i18n").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out.update(json.loads(entry.read_text(encoding="utf-8")))
    return out


def t(key: str, lang: str = DEFAULT, **fields: object) -> str:
    """The text of `key` in `lang` (English when the language lacks it), with fields filled."""
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT).get(key, key)
    return text.format(**fields) if fields else text


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """The language to use: `?lang=` when it is one we ship, else the browser's best
    (Accept-Language, by q-value), else English."""
    if query_lang in LANGUAGES:
        return query_lang  # type: ignore[return-value]
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, index, primary))
    return sorted(choices)[0][2] if choices else DEFAULT


def missing_keys() -> dict[str, list[str]]:
    """Keys of the English catalogue that a language lacks (tests require none)."""
    english = set(catalogue(DEFAULT))
    return {lang: sorted(english - set(catalogue(lang))) for lang in LANGUAGES if lang != DEFAULT}

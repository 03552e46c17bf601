"""Suggested replies: through any OpenAI-compatible chat endpoint, with personal data redacted
before anything leaves the machine and restored in the draft; without an endpoint, the closest
resolved case's reply.

Redaction replaces e-mail addresses, phone numbers, IBANs and names from a list with numbered
placeholders (``[EMAIL_1]``, ``[PHONE_1]``, ``[IBAN_1]``, ``[NAME_1]``); the same value always
gets the same placeholder, so the model can refer to it, and the placeholders in its answer are
put back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conveyor.config import DraftingSettings
from conveyor.decide import DecideError

__all__ = ["Redactor", "draft_reply"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d ()./-]{6,}\d(?![\w])")


class Redactor:
    """Placeholders for personal data in texts, and their values back."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.values: dict[str, str] = {}  # placeholder -> value
        self._by_value: dict[tuple[str, str], str] = {}
        # longest names first, whole words, any case
        self._names = (
            re.compile(
                r"\b(" + "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True)) + r")\b", re.I
            )
            if names
            else None
        )

    def _tag(self, kind: str, value: str) -> str:
        key = (kind, value.lower() if kind == "NAME" else value)
        if key not in self._by_value:
            n = sum(1 for k in self._by_value if k[0] == kind) + 1
            tag = f"[{kind}_{n}]"
            self._by_value[key] = tag
            self.values[tag] = value
        return self._by_value[key]

    def redact(self, text: str) -> str:
        text = _EMAIL.sub(lambda m: self._tag("EMAIL", m.group(0)), text)
        text = _IBAN.sub(lambda m: self._tag("IBAN", m.group(0)), text)
        text = _PHONE.sub(
            lambda m: self._tag("PHONE", m.group(0)) if sum(c.isdigit() for c in m.group(0)) >= 8 else m.group(0), text
        )
        if self._names is not None:
            text = self._names.sub(lambda m: self._tag("NAME", m.group(0)), text)
        return text

    def restore(self, text: str) -> str:
        for tag, value in self.values.items():
            text = text.replace(tag, value)
        return text


def _names(root: Path, settings: DraftingSettings) -> list[str]:
    if not settings.names_file:
        return []
    path = root / settings.names_file
    if not path.is_file():
        raise DecideError(f"drafting.names_file: {path} does not exist", hint="a text file with one name a line")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ask(settings: DraftingSettings, messages: list[dict[str, str]]) -> str:
    import httpx

    headers = {}
    key = os.environ.get(settings.api_key_env or "")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = settings.url.rstrip("/") + "/chat/completions"
    try:
        r = httpx.post(
            url,
            json={"model": settings.model or "default", "messages": messages, "temperature": 0.2},
            headers=headers,
            timeout=settings.timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise DecideError(f"drafting endpoint {url}: {exc}", hint="check drafting.url in conveyor.toml") from None
    if r.status_code != 200:
        raise DecideError(
            f"drafting endpoint {url} answered {r.status_code}: {r.text[:200]}",
            hint="check drafting.url, drafting.model and the API key",
        )
    try:
        return str(r.json()["choices"][0]["message"]["content"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise DecideError(
            f"drafting endpoint {url} did not answer like an OpenAI chat completion",
            hint="it must return {'choices': [{'message': {'content': ...}}]}",
        ) from None


def draft_reply(
    item: Mapping[str, Any],
    similar: list[dict[str, Any]],
    *,
    text_fields: Sequence[str],
    reply_field: str | None,
    settings: DraftingSettings,
    root: Path,
) -> dict[str, Any]:
    """A suggested reply to ``item`` with how it was made (``source``: ``endpoint`` or
    ``closest case``), what was redacted (kinds and counts, never the values) and the cases used."""
    examples = [s for s in similar if reply_field and s.get(reply_field)]
    if not settings.url:
        if not examples:
            return {
                "draft": None,
                "source": "none",
                "note": "no drafting endpoint set and no similar resolved case with a reply"
                + ("" if reply_field else " (train with --outcome naming the reply column)"),
            }
        best = examples[0]
        return {
            "draft": str(best[reply_field or ""]),
            "source": "closest case",
            "case": best.get("id"),
            "similarity": best.get("similarity"),
        }
    red = Redactor(_names(root, settings))
    ticket = "\n".join(f"{f}: {red.redact(str(item.get(f) or ''))}" for f in text_fields)
    shots = "\n\n".join(
        f"Past ticket: {red.redact(str(s.get('text') or ''))}\nReply sent: {red.redact(str(s[reply_field or '']))}"
        for s in examples[:3]
    )
    messages = [
        {
            "role": "system",
            "content": "You draft short, polite replies to support tickets for a person to check "
            "before sending. Keep placeholders such as [NAME_1] or [EMAIL_1] exactly as written.",
        },
        {"role": "user", "content": (f"{shots}\n\n" if shots else "") + f"New ticket:\n{ticket}\n\nDraft the reply."},
    ]
    answer = _ask(settings, messages)
    kinds: dict[str, int] = {}
    for tag in red.values:
        kind = tag[1:].rsplit("_", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "draft": red.restore(answer),
        "source": "endpoint",
        "redacted": kinds,
        "cases": [s.get("id") for s in examples[:3]],
    }

"""Masking personal data and credentials in text before it becomes training data (no I/O).

Three kinds: e-mail addresses, phone numbers and secrets (API keys, tokens, passwords in
``key=value`` form, private-key blocks, credentials in URLs). Each is replaced by a
placeholder (``[EMAIL]``, ``[PHONE]``, ``[SECRET]``). The patterns lean towards missing an
odd phone format rather than eating ordinary numbers: dates, times, versions, IP
addresses, amounts and identifiers stay as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Kind = Literal["email", "phone", "secret"]
KINDS: tuple[Kind, ...] = ("email", "phone", "secret")
PLACEHOLDER: dict[Kind, str] = {"email": "[EMAIL]", "phone": "[PHONE]", "secret": "[SECRET]"}
# Where spans overlap, the stronger claim wins: a key that contains an @ is a key.
_PRIORITY: dict[Kind, int] = {"secret": 0, "email": 1, "phone": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    start: int
    end: int
    # What a reviewer sees: enough to recognise the value, never the value itself.
    preview: str


@dataclass(frozen=True, slots=True)
class Options:
    emails: bool = True
    phones: bool = True
    secrets: bool = True

    def wants(self, kind: Kind) -> bool:
        return {"email": self.emails, "phone": self.phones, "secret": self.secrets}[kind]


_KEY_CHARS = r"A-Za-z0-9_\-"
# Provider keys with a recognisable prefix; group "v" is the part to mask.
_PREFIXED = [
    # OpenAI / Anthropic style: sk-..., sk-proj-..., sk-ant-api03-... (needs a digit, so a
    # hyphenated phrase such as "sk-learn-style-pipelines" is left alone).
    rf"(?<![{_KEY_CHARS}])(?P<v>sk-(?=[{_KEY_CHARS}]{{0,256}}\d)[{_KEY_CHARS}]{{20,}})",
    # Stripe secret and restricted keys.
    r"(?<![A-Za-z0-9_])(?P<v>[sr]k_(?:live|test)_[A-Za-z0-9]{16,})",
    # llmforge personal API keys and webhook signing secrets.
    rf"(?<![{_KEY_CHARS}])(?P<v>lf_[{_KEY_CHARS}]{{20,}})",
    r"(?<![A-Za-z0-9_])(?P<v>whsec_[A-Za-z0-9+/=]{16,})",
    # Google API keys, AWS access key ids, GitHub and Slack tokens.
    rf"(?<![{_KEY_CHARS}])(?P<v>AIza[{_KEY_CHARS}]{{35}})",
    r"(?<![A-Za-z0-9])(?P<v>(?:AKIA|ASIA)[0-9A-Z]{16})(?![A-Za-z0-9])",
    r"(?<![A-Za-z0-9_])(?P<v>gh[pousr]_[A-Za-z0-9]{30,})",
    r"(?<![A-Za-z0-9_])(?P<v>github_pat_[A-Za-z0-9_]{22,})",
    r"(?<![A-Za-z0-9_])(?P<v>xox[abprs]-[A-Za-z0-9-]{10,})",
    # JSON Web Tokens: three base64url parts, the first two JSON objects ("eyJ").
    r"(?<![A-Za-z0-9_\-])(?P<v>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
    # PEM private keys, whole block.
    r"(?P<v>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)",
    # HTTP authorization values.
    r"(?i:\b(?:bearer|basic)\s+)(?P<v>[A-Za-z0-9._~+/-]{20,}=*)",
    # user:password@ in a URL.
    r"://[^\s:/@]+:(?P<v>[^\s@/]{3,})@",
]
# ``name = value`` / ``name: value`` / ``"name": "value"`` where the name says secret.
# The value must look machine-made (long, with a digit), so prose such as "token: the
# word" survives; passwords only need a digit or a symbol.
_ASSIGN = (
    r"(?i:\b(?P<name>[A-Za-z0-9_.\-]{0,40}?(?:api[_\-]?key|apikey|secret|token|access[_\-]?key|"
    r"auth|credential|private[_\-]?key|signature|session[_\-]?id)[A-Za-z0-9_\-]{0,40})"
    r"[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<v>(?=[A-Za-z0-9+/=_\-.~]{0,256}\d)[A-Za-z0-9+/=_\-.~]{16,})"
)
_LOGIN_VALUE = (
    r"(?i:\b(?:password|passwd|pwd|pass)[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<v>(?=\S{0,128}[\d\W])[^\s\"',;&]{6,})"
)
_SECRET_RES = [re.compile(p) for p in (*_PREFIXED, _ASSIGN, _LOGIN_VALUE)]

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"(?P<v>[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}))*"
    r"\.[A-Za-z]{2,24})"
    r"(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)

# A phone candidate: optional +CC or 00CC, then digit groups joined by one separator each
# (space, dash, dot) with an optional (area) group. ``_is_phone`` decides.
_PHONE_RE = re.compile(
    r"(?<![\w.+/:\-@#])"
    r"(?P<v>(?:\+|00)?(?:\(\d{1,5}\)[ .\-]?|\d{1,6})(?:[ .\-]?\(?\d{1,6}\)?){1,6})"
    r"(?![\w/@]|[.\-:,]\d)"
)
_DATE = re.compile(
    r"(?:^|\D)(?:\d{4}([.\-/])\d{1,2}\1\d{1,2}|\d{1,2}([.\-/])\d{1,2}\2\d{4})(?:\D|$)"
)
_GROUPS = re.compile(r"\d+")


def _is_phone(candidate: str) -> bool:
    international = candidate.startswith(("+", "00"))
    body = candidate[1:] if candidate.startswith("+") else candidate
    groups = _GROUPS.findall(body)
    digits = sum(len(g) for g in groups)
    separators = set(re.sub(r"[\d()]", "", body))
    if len(groups) < 2 and not international:
        # A bare run of digits is an id, an amount or a timestamp, not evidently a phone.
        return False
    if _DATE.search(candidate):
        return False
    if international:
        return 8 <= digits <= 15
    if not 10 <= digits <= 11:
        return False
    if "." in separators:
        # Dotted numbers are versions, IP addresses and decimals, except 555.123.4567.
        return bool(re.fullmatch(r"\(?\d{3}\)?\.\d{3}\.\d{4}", candidate))
    if any(len(g) == 1 for g in groups[1:]):
        return False  # ISBNs, part numbers: 978-3-16-148410-0
    if "(" not in candidate and len(groups) >= 3 and all(len(g) == 3 for g in groups[1:]):
        return False  # thousands grouped with spaces: 1 234 567 890
    # A row of two-digit numbers is not a phone; national numbers such as 01 23… start 0.
    return not (all(len(g) == 2 for g in groups) and not groups[0].startswith("0"))


def _preview(kind: Kind, value: str) -> str:
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:2]}…@{domain}"
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        lead = "+" if value.startswith("+") else ""
        return f"{lead}{digits[:2]}…{digits[-2:]}"
    match = re.match(
        r"(sk-ant-|sk-proj-|sk-|[sr]k_(?:live|test)_|lf_|whsec_|AIza|AKIA|ASIA|gh[pousr]_|"
        r"github_pat_|xox[abprs]-|eyJ|-----BEGIN)",
        value,
    )
    return f"{match.group(1) if match else ''}…({len(value)} chars)"


def find(text: str, options: Options = Options()) -> list[Finding]:
    """Every span to mask, in text order, overlaps resolved by kind priority."""
    spans: list[tuple[int, int, Kind]] = []
    if options.secrets:
        for pattern in _SECRET_RES:
            spans += [(m.start("v"), m.end("v"), "secret") for m in pattern.finditer(text)]
    if options.emails:
        spans += [(m.start("v"), m.end("v"), "email") for m in _EMAIL_RE.finditer(text)]
    if options.phones:
        for m in _PHONE_RE.finditer(text):
            value = m.group("v").rstrip(" .-")
            if _is_phone(value):
                spans.append((m.start("v"), m.start("v") + len(value), "phone"))
    chosen: list[tuple[int, int, Kind]] = []
    for start, end, kind in sorted(spans, key=lambda s: (_PRIORITY[s[2]], s[0], -s[1])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, kind))
    chosen.sort()
    return [Finding(k, s, e, _preview(k, text[s:e])) for s, e, k in chosen]


def scrub(text: str, options: Options = Options()) -> tuple[str, list[Finding]]:
    """The text with every finding replaced by its placeholder, and the findings."""
    findings = find(text, options)
    if not findings:
        return text, []
    out: list[str] = []
    last = 0
    for f in findings:
        out += [text[last : f.start], PLACEHOLDER[f.kind]]
        last = f.end
    out.append(text[last:])
    return "".join(out), findings


def summary(findings: list[Finding]) -> dict[Kind, int]:
    counts = Counter(f.kind for f in findings)
    return {kind: counts.get(kind, 0) for kind in KINDS}

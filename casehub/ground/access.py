"""API tokens per role (operator, court, agency integrator, viewer) and the courts' signing secrets.

One narrow interface: `Access.role_of(token) -> Role | None`. Tokens come from the setting CASEHUB_API_TOKENS
(`operator:TOKEN,viewer:TOKEN,agency:TOKEN,court/辽0102:TOKEN`) and from the file `$CASEHUB_HOME/access.toml`
(mode 0600, refused otherwise), whose form is

    [tokens]
    "TOKEN" = "operator"          # or viewer, agency, court/<court code>
    [court_secrets]
    "辽0102" = "SECRET"            # HMAC key of that court's request bodies and callbacks

Court secrets also come from CASEHUB_COURT_SECRETS (`辽0102:SECRET,...`). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("operator", "viewer", "agency", "court")
FILE_NAME = "access.toml"


class AccessError(ValueError):
    """A token or secret entry cannot be used; the message names it."""


@dataclass(frozen=True)
class Role:
    name: str  # operator | viewer | agency | court
    court_code: str | None = None  # a court's token sees only that court's requests

    @property
    def label(self) -> str:
        return f"court/{self.court_code}" if self.court_code else self.name


def parse_role(text: str) -> Role:
    name, _, court = text.strip().partition("/")
    if name not in ROLES:
        raise AccessError(f"unknown role {text!r}; roles: operator, viewer, agency, court/<court code>")
    if name == "court" and not court:
        raise AccessError("a court token names its court: court/<court code>, e.g. court/辽0102")
    if name != "court" and court:
        raise AccessError(f"only court tokens name a court, not {text!r}")
    return Role(name, court or None)


@dataclass(frozen=True)
class Access:
    tokens: dict[str, Role] = field(default_factory=dict, repr=False)
    court_secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def role_of(self, token: str | None) -> Role | None:
        """The role of a token, or None for a missing or unknown one."""
        if not token:
            return None
        found = None
        for known, role in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = role
        return found

    def secret_of(self, court_code: str) -> str | None:
        return self.court_secrets.get(court_code)

    def token_for(self, label: str) -> str | None:
        """A token of a role label (for printing a sign-in link of a generated file)."""
        return next((t for t, r in self.tokens.items() if r.label == label), None)


def _pairs(text: str | None, what: str) -> list[tuple[str, str]]:
    out = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.strip().rpartition(":")
        if not sep or not key or not value:
            raise AccessError(f"{what}: {item.strip()!r} is not KEY:VALUE")
        out.append((key, value))
    return out


def read_file(path: Path) -> dict:
    """The access file; refused when others than its owner may read it."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AccessError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 {path}")
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_access(settings) -> Access:
    """Tokens and court secrets from the settings and the access file in the hub's home."""
    tokens: dict[str, Role] = {}
    courts: dict[str, str] = {}
    path = Path(settings.home) / FILE_NAME
    if path.exists():
        doc = read_file(path)
        for token, role in doc.get("tokens", {}).items():
            tokens[token] = parse_role(role)
        courts.update({str(k): str(v) for k, v in doc.get("court_secrets", {}).items()})
    for role, token in _pairs(settings.api_tokens, "CASEHUB_API_TOKENS"):
        tokens[token] = parse_role(role)
    courts.update(dict(_pairs(settings.court_secrets, "CASEHUB_COURT_SECRETS")))
    return Access(tokens, courts)


def generate_access_file(home: Path, court_codes: list[str]) -> Path:
    """Write `$home/access.toml` (0600) with one fresh token per role and per court, and a secret per court,
    unless it exists; returns its path."""
    path = Path(home) / FILE_NAME
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# casehub API tokens and court secrets (generated; keep private)", "[tokens]"]
    for role in ("operator", "viewer", "agency"):
        lines.append(f'"{secrets.token_urlsafe(24)}" = "{role}"')
    for code in court_codes:
        lines.append(f'"{secrets.token_urlsafe(24)}" = "court/{code}"')
    lines.append("[court_secrets]")
    for code in court_codes:
        lines.append(f'"{code}" = "{secrets.token_urlsafe(32)}"')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of `timestamp.body`, hex: the X-Casehub-Signature of a request body or a callback."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, "sha256").hexdigest()


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(sign(secret, timestamp, body), signature)

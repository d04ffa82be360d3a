"""API tokens and roles: which token a request carries, which role it grants, and what that role may see; and the
courts' signing secrets.

Framework-free (plain strings and mappings), so every HTTP surface makes the same check with a thin call. The one
question the web layer asks is `Access.role_of(token) -> Role | None`.

Roles: `operator` (every page, link corrections, the operator page), `viewer` (pages and /api), `integrator` (an
agency integrator: /api with the keyed hashes too, to link records), `court/<court code>` (that court's
confirmation requests only, and its callbacks). Only integrators get `*_hash` fields; nobody gets a full identity.

Tokens come from CASEHUB_WEB_TOKENS (`operator:T,viewer:T,integrator:T,court/辽0102:T`) and, for the local hub,
from the files `casehub up` keeps in CASEHUB_HOME/secrets (casehub.ground.secrets): the operator token, and for the
sample's courts a token and a signing secret each (`courts`, TOML). Court secrets also come from
CASEHUB_COURT_SECRETS (`辽0102:SECRET,...`).
"""

from __future__ import annotations

import hmac
import secrets
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

# viewer: the web page and /api with masked identities only; integrator: also the keyed hashes, to link records
ROLES = ("operator", "viewer", "integrator", "court")
SEES_HASHES = ("integrator",)  # keyed hashes link records: integrators need them, people reading cases do not
COOKIE = "casehub_token"
SIGN_IN_PATH = "/signin"
MIN_TOKEN_LENGTH = 16
COURTS_FILE = "courts"  # in CASEHUB_HOME/secrets: the sample courts' tokens and signing secrets (TOML)


class AccessError(ValueError):
    """A token or secret entry cannot be used; the message names it."""


@dataclass(frozen=True)
class Role:
    name: str  # operator | viewer | integrator | court
    court_code: str | None = None  # a court's token sees only that court's requests

    @property
    def label(self) -> str:
        return f"court/{self.court_code}" if self.court_code else self.name


def parse_role(text: str) -> Role:
    """'viewer' -> Role('viewer'); 'court/辽0102' -> Role('court', '辽0102').

    Raises:
        AccessError: an unknown role, a court without its code, or a code on another role.
    """
    name, _, court = text.strip().partition("/")
    if name not in ROLES:
        raise AccessError(f"unknown role {text!r}; roles: operator, viewer, integrator, court/<court code>")
    if name == "court" and not court:
        raise AccessError("a court token names its court: court/<court code>, e.g. court/辽0102")
    if name != "court" and court:
        raise AccessError(f"only court tokens name a court, not {text!r}")
    return Role(name, court or None)


@dataclass(frozen=True)
class Tokens:
    """The accepted tokens and the role each grants (never printed)."""

    roles: dict[str, str] = field(default_factory=dict, repr=False)  # token -> role label

    def role_of(self, token: str | None) -> str | None:
        """The role `token` grants, or None; compared in constant time against every known token."""
        if not token:
            return None
        given = token.encode("utf-8", "surrogateescape")
        found = None
        for known, role in self.roles.items():
            if hmac.compare_digest(given, known.encode("utf-8")):
                found = role
        return found

    def __bool__(self) -> bool:
        return bool(self.roles)


def parse_tokens(spec: str | None) -> Tokens:
    """'viewer:tok1,integrator:tok2,court/辽0102:tok3' -> Tokens.

    Raises:
        ValueError: an entry is not role:token, names an unknown role, or its token is shorter than 16 characters.
    """
    roles: dict[str, str] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        role, sep, token = part.partition(":")
        if not sep or not token:
            raise ValueError(f"entry {role!r}... is not role:token")
        parse_role(role)
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the {role} token has {len(token)} characters; use at least {MIN_TOKEN_LENGTH} random ones "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        roles[token] = role
    return Tokens(roles)


def request_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: `Authorization: Bearer <token>`, else the sign-in cookie."""
    header = headers.get("Authorization", "") or headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE) or None


def sign_in_link(base_url: str, token: str) -> str:
    """The link that signs a browser in (the web view turns the token into a cookie and drops it from the URL)."""
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}?{urllib.parse.urlencode({'token': token})}"


def visible_to(role: str | Role, value):
    """`value` (a case record, a list of rows...) as `role` may see it: only integrators get the keyed hashes
    (`*_hash`, at any depth); hashes link records inside the hub."""
    name = role.name if isinstance(role, Role) else role
    if name in SEES_HASHES:
        return value
    if isinstance(value, dict):
        return {k: visible_to(name, v) for k, v in value.items() if not k.endswith("_hash")}
    if isinstance(value, list):
        return [visible_to(name, v) for v in value]
    return value


@dataclass(frozen=True)
class Access:
    """Tokens by role, and the courts' signing secrets."""

    tokens: dict[str, Role] = field(default_factory=dict, repr=False)
    court_secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def role_of(self, token: str | None) -> Role | None:
        """The role of a token, or None for a missing or unknown one (constant-time comparisons)."""
        if not token:
            return None
        given = token.encode("utf-8", "surrogateescape")
        found = None
        for known, role in self.tokens.items():
            if hmac.compare_digest(given, known.encode("utf-8")):
                found = role
        return found

    def secret_of(self, court_code: str | None) -> str | None:
        return self.court_secrets.get(court_code) if court_code else None

    def token_for(self, label: str) -> str | None:
        """A token of a role label (the court simulator calls back with its court's)."""
        return next((t for t, r in self.tokens.items() if r.label == label), None)

    def __bool__(self) -> bool:
        return bool(self.tokens)


def _pairs(text: str | None, what: str) -> list[tuple[str, str]]:
    out = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.strip().partition(":")
        if not sep or not key or not value:
            raise AccessError(f"{what}: {item.strip()[:12]!r}... is not KEY:VALUE")
        out.append((key, value))
    return out


def courts_file(court_codes: list[str]) -> str:
    """The text of a new courts file: a token and a signing secret for each court (TOML)."""
    lines = ["# casehub: the sample courts' API tokens and signing secrets (generated by `casehub up`; keep private)"]
    lines.append("[tokens]")
    lines += [f'"{code}" = "{secrets.token_urlsafe(24)}"' for code in court_codes]
    lines.append("[secrets]")
    lines += [f'"{code}" = "{secrets.token_urlsafe(32)}"' for code in court_codes]
    return "\n".join(lines)


def load_access(settings) -> Access:
    """Tokens and court secrets of a process: CASEHUB_WEB_TOKENS and CASEHUB_COURT_SECRETS, and the files of its
    home (the operator token when CASEHUB_WEB_TOKENS is unset; the sample courts' file).

    Raises:
        SettingsError: a secrets file others can read (casehub.ground.secrets says how to fix it).
        AccessError: an entry that cannot be used.
    """
    from casehub.ground.secrets import OPERATOR_TOKEN, HomeSecrets

    home = HomeSecrets(settings.home)
    tokens: dict[str, Role] = {}
    court_secrets: dict[str, str] = {}
    if settings.web_tokens:
        tokens.update({t: parse_role(r) for t, r in parse_tokens(settings.web_tokens).roles.items()})
    else:
        operator = home.read(OPERATOR_TOKEN)
        if operator:
            tokens[operator] = Role("operator")
    text = home.read(COURTS_FILE)
    if text:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AccessError(f"{home.path(COURTS_FILE)} is not valid TOML: {exc}") from exc
        tokens.update({str(token): Role("court", str(code)) for code, token in doc.get("tokens", {}).items()})
        court_secrets.update({str(code): str(secret) for code, secret in doc.get("secrets", {}).items()})
    court_secrets.update(dict(_pairs(settings.court_secrets, "CASEHUB_COURT_SECRETS")))
    return Access(tokens, court_secrets)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of `timestamp.body`, hex: the X-Casehub-Signature of a request body or a callback."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, "sha256").hexdigest()


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    # compared as bytes: a header with non-ASCII characters is a wrong signature, not an error
    given = (signature or "").encode("utf-8", "surrogateescape")
    return bool(given) and hmac.compare_digest(sign(secret, timestamp, body).encode(), given)

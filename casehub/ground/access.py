"""API tokens and roles: which token a request carries, which role it grants, and what that role may see.

Framework-free (plain strings and mappings), so the aiohttp web view today and an HTTP API tomorrow make the same
check with a thin call. Tokens come from settings (CASEHUB_WEB_TOKENS) or, for the local hub, the operator token
`casehub up` keeps in CASEHUB_HOME (casehub.ground.secrets).
"""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

# viewer: the web page and /api with masked identities only; integrator: also the keyed hashes, to link records
ROLES = ("viewer", "integrator")
COOKIE = "casehub_token"
SIGN_IN_PATH = "/signin"
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Tokens:
    """The accepted tokens and the role each grants (never printed)."""

    roles: dict[str, str] = field(default_factory=dict, repr=False)  # token -> role

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
    """'viewer:tok1,integrator:tok2' -> Tokens.

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
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the {role} token has {len(token)} characters; use at least {MIN_TOKEN_LENGTH} random ones "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        roles[token] = role
    return Tokens(roles)


def request_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request carries: `Authorization: Bearer <token>`, else the sign-in cookie."""
    header = headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE) or None


def sign_in_link(base_url: str, token: str) -> str:
    """The link that signs a browser in (the web view turns the token into a cookie and drops it from the URL)."""
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}?{urllib.parse.urlencode({'token': token})}"


def visible_to(role: str, value):
    """`value` (a case record, a list of rows...) as `role` may see it: the viewer gets no keyed hash (`*_hash`)
    at any depth; hashes link records inside the hub and are for the integrator role only."""
    if role == "integrator":
        return value
    if isinstance(value, dict):
        return {k: visible_to(role, v) for k, v in value.items() if not k.endswith("_hash")}
    if isinstance(value, list):
        return [visible_to(role, v) for v in value]
    return value

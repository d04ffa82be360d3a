"""Who may read and write the embedded registry: HTTP basic or bearer credentials from settings, as Confluent's and
Karapace's registries take them (Confluent's clients send `basic.auth.user.info` as basic)."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from casehub.schemas.registry.state import RegistryError

REALM = 'Basic realm="casehub schema registry", Bearer realm="casehub schema registry"'


@dataclass(frozen=True)
class RegistryAccess:
    """The credentials the registry accepts and whether reads need one.

    Args:
        credentials: "user:password" for HTTP basic (CASEHUB_REGISTRY_CREDENTIALS).
        token: a bearer token (CASEHUB_REGISTRY_TOKEN).
        reads_open: reads need no credential (the registry listens on the loopback address only).
    """

    credentials: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    reads_open: bool = True

    @property
    def writable(self) -> bool:
        return bool(self.credentials or self.token)

    def accepts(self, authorization: str | None) -> bool:
        """True if the Authorization header carries an accepted credential (compared in constant time)."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic" and self.credentials and value:
            try:
                given = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(given, self.credentials.encode("utf-8"))
        if scheme.lower() == "bearer" and self.token and value:
            return hmac.compare_digest(value.encode("utf-8", "surrogateescape"), self.token.encode("utf-8"))
        return False

    def check_read(self, authorization: str | None) -> None:
        if self.reads_open or self.accepts(authorization):
            return
        raise RegistryError(
            401,
            40101,
            "this registry listens beyond the local address, so reads need its credential too: send HTTP basic "
            "(basic.auth.user.info in Confluent's clients) or a bearer token",
        )

    def check_write(self, authorization: str | None) -> None:
        if not self.writable:
            raise RegistryError(
                403,
                40301,
                "this registry accepts no writes over HTTP: start it with CASEHUB_REGISTRY_CREDENTIALS=user:password "
                "(or CASEHUB_REGISTRY_TOKEN) to allow registering, deleting and configuring",
            )
        if not self.accepts(authorization):
            raise RegistryError(
                401,
                40101,
                "registering, deleting and configuring need the registry's credential: send HTTP basic with "
                "CASEHUB_REGISTRY_CREDENTIALS (basic.auth.user.info in Confluent's clients) or Bearer "
                "CASEHUB_REGISTRY_TOKEN",
            )

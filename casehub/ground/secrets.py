"""Secrets a hub keeps in its home, and when the HMAC secret must come from settings instead.

`casehub up` on sample data needs no configuration: it generates, once per CASEHUB_HOME, a random HMAC key, an
operator token for the web view and a credential for the embedded registry, each in CASEHUB_HOME/secrets/<name>
(folder 0700, files 0600), and reuses them on every later start. Real data is different: every host of a hub must
hash with the same key, kept where the operator keeps secrets, so a process that reads a configured agency database
or serves push intake refuses to start without CASEHUB_HMAC_SECRET.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from casehub.ground.settings import Settings, SettingsError, variable

HMAC_SECRET = "hmac_secret"
OPERATOR_TOKEN = "operator_token"
REGISTRY_CREDENTIALS = "registry_credentials"
AGENCY_DATABASES = ("mediation", "arbitration", "court", "inspection")


class HomeSecrets:
    """The files under CASEHUB_HOME/secrets: read (refusing files other users can read) and created once."""

    def __init__(self, home: Path):
        self.dir = Path(home) / "secrets"

    def path(self, name: str) -> Path:
        return self.dir / name

    def read(self, name: str) -> str | None:
        """The secret kept in `name`, or None if there is none yet.

        Raises:
            SettingsError: the file can be read or written by other users (it says how to fix that).
        """
        path = self.path(name)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(
                f"{path} is open to other users (mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`, and replace the "
                "secret if someone else may have read it"
            )
        return path.read_text(encoding="utf-8").strip() or None

    def ensure(self, name: str, make=None) -> tuple[str, bool]:
        """The secret in `name`, created with `make()` (default: 32 random bytes, URL-safe) if missing.

        Returns:
            (the secret, True if this call created it).
        """
        value = self.read(name)
        if value:
            return value, False
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        value = make() if make else secrets.token_urlsafe(32)
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this home created it meanwhile: use theirs
            return self.read(name) or "", False
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value + "\n")
        return value, True


def is_sample_url(settings: Settings, url: str) -> bool:
    """True for the SQLite file of a sample agency database under the hub's sample folder."""
    if not url.startswith("sqlite:///"):
        return False
    path = Path(url.removeprefix("sqlite:///"))
    return path.name in {f"{db}.db" for db in AGENCY_DATABASES} and path.parent.resolve() == settings.samples.resolve()


def real_data(settings: Settings, databases: Mapping[str, str] | None = None) -> list[str]:
    """What makes a process handle real personal data: the settings (or connectors' databases) that say so."""
    found = [variable(f"{db}_db_url") for db in AGENCY_DATABASES if getattr(settings, f"{db}_db_url")]
    if settings.intake_tokens:
        found.append(variable("intake_tokens"))
    # a mapping may name its own database (`url` in the mapping file) while no variable is set
    found += [
        f"the database of connector {n!r}" for n, url in (databases or {}).items() if not is_sample_url(settings, url)
    ]
    return found


def missing_secret(reasons: list[str]) -> SettingsError:
    return SettingsError(
        f"{variable('hmac_secret')} is not set, but this hub handles real data ({', '.join(reasons)}). Set it to a "
        "long random value, the same on every host of the hub, and keep it where you keep other secrets, e.g. "
        f"`export {variable('hmac_secret')}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')`. "
        "Changing it later changes every identity hash (README: rotating the HMAC key)."
    )


def hmac_secret(settings: Settings, databases: Mapping[str, str] | None = None, log=None) -> str:
    """The key of the identity hashes for a process that hashes identities.

    CASEHUB_HMAC_SECRET if set; else, for sample data only, the per-home secret (created on first use).

    Args:
        databases: connector name -> database URL this process reads (a mapping may carry its own URL).
        log: a structlog logger; told (without the secret) when the per-home sample secret is used.
    Raises:
        SettingsError: real data (a configured database or push intake) and no CASEHUB_HMAC_SECRET.
    """
    if settings.hmac_secret:
        return settings.hmac_secret
    reasons = real_data(settings, databases)
    if reasons:
        raise missing_secret(reasons)
    home = HomeSecrets(settings.home)
    value, created = home.ensure(HMAC_SECRET)
    if log is not None:
        log.warning(
            "identity hashes use this hub's own sample secret; set CASEHUB_HMAC_SECRET before real data flows",
            secret_file=str(home.path(HMAC_SECRET)),
            created=created,
        )
    return value


def registry_auth(settings: Settings) -> tuple[str | None, str | None]:
    """(basic credential, bearer token) for an operator's command talking to the hub's registry: the settings, else
    the credential `casehub up` generated for its embedded registry in this home."""
    if settings.registry_credentials or settings.registry_token:
        return settings.registry_credentials, settings.registry_token
    if settings.embedded_registry:
        return HomeSecrets(settings.home).read(REGISTRY_CREDENTIALS), None
    return None, None

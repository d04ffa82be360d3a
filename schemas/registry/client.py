"""A small Confluent Schema Registry client (the hub's own registry or Confluent, Karapace, Apicurio's compatible
API)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryClientError(Exception):
    """The registry answered with an error (status and Confluent error code kept)."""

    def __init__(self, status: int, code: int | None, message: str, url: str):
        super().__init__(f"schema registry {url}: {status} {code or ''} {message}".strip())
        self.status, self.code, self.message = status, code, message


class RegistryUnavailable(Exception):
    """The registry could not be reached."""


def authorization(credentials: str | None = None, token: str | None = None) -> str | None:
    """The Authorization header for a registry credential: HTTP basic for "user:password", else Bearer."""
    if credentials:
        return "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    if token:
        return f"Bearer {token}"
    return None


class RegistryClient:
    """Blocking client with caches: ids and schemas never change once registered, so each is fetched once.

    Args:
        credentials: "user:password" sent as HTTP basic (CASEHUB_REGISTRY_CREDENTIALS), or
        token: a bearer token (CASEHUB_REGISTRY_TOKEN).
    """

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        retry_for: float = 30.0,
        credentials: str | None = None,
        token: str | None = None,
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retry_for = retry_for
        self._authorization = authorization(credentials, token)
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r}, authenticated={self._authorization is not None})"

    def _call(self, method: str, path: str, body: dict | None = None):
        @retry(
            retry=retry_if_exception_type(RegistryUnavailable),
            stop=stop_after_delay(self.retry_for),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )
        def attempt():
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
            if self._authorization:
                headers["Authorization"] = self._authorization
            req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                try:
                    err = json.loads(exc.read())
                except ValueError:
                    err = {}
                message = err.get("message", exc.reason) if isinstance(err, dict) else exc.reason
                if exc.code == 401 and not self._authorization:
                    message += " (set CASEHUB_REGISTRY_CREDENTIALS or CASEHUB_REGISTRY_TOKEN)"
                raise RegistryClientError(
                    exc.code, err.get("error_code") if isinstance(err, dict) else None, message, self.url
                ) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                raise RegistryUnavailable(f"schema registry at {self.url} unreachable: {exc}") from exc

        return attempt()

    def register(self, subject: str, schema: str) -> int:
        key = (subject, schema)
        if key not in self._ids:
            self._ids[key] = int(
                self._call(
                    "POST",
                    f"/subjects/{urllib.parse.quote(subject, safe='')}/versions",
                    {"schema": schema, "schemaType": "AVRO"},
                )["id"]
            )
            self._by_id.setdefault(self._ids[key], schema)
        return self._ids[key]

    def schema(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            self._by_id[schema_id] = self._call("GET", f"/schemas/ids/{schema_id}")["schema"]
        return self._by_id[schema_id]

    def latest(self, subject: str) -> dict:
        return self._call("GET", f"/subjects/{urllib.parse.quote(subject, safe='')}/versions/latest")

    def casehub_status(self) -> dict:
        """casehub's embedded registry only: the contract's subjects and their conflicts."""
        return self._call("GET", "/casehub/status")

    def casehub_repair(self) -> dict:
        """casehub's embedded registry only: restore the contract in every conflicting subject."""
        return self._call("POST", "/casehub/repair", {})

"""Entry points of the long-running components (registry, connect, sink, web, intake) and of `casehub import`:
one asyncio loop each, stopped by SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from casehub.ground.kafka import clients_for, ensure_topics
from casehub.ground.logs import get_logger
from casehub.ground.publish import KafkaPublisher
from casehub.ground.secrets import OPERATOR_TOKEN, HomeSecrets, hmac_secret
from casehub.ground.settings import Settings, SettingsError, is_loopback
from casehub.schemas.codec import codec_for
from casehub.schemas.registry.guard import REPAIR


async def _until_signal(stop_callbacks) -> asyncio.Event:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal():
        for cb in stop_callbacks:
            cb()
        stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return stopped


def register_contract(settings: Settings) -> dict[str, int]:
    """Register every casehub schema with the configured registry (embedded or external)."""
    return codec_for(settings).register_all()


class ContractConflict(RuntimeError):
    """casehub's registry reports subjects that conflict with the contract; the message names them and the repair."""


def contract_conflicts(settings: Settings, credentials: str | None = None) -> list[dict]:
    """The conflicts casehub's own registry reports (`/casehub/status`); [] for another registry, which has no such
    report.

    Args:
        credentials: the registry's credential when the settings do not hold it (`casehub up` generated it).
    """
    from casehub.schemas.registry.client import RegistryClient, RegistryClientError

    client = RegistryClient(
        settings.registry_url,
        credentials=credentials or settings.registry_credentials,
        token=settings.registry_token,
    )
    try:
        return client.casehub_status()["contract"]["conflicts"]
    except RegistryClientError as exc:
        if exc.status == 404:
            return []  # Confluent, Karapace...: no contract report
        raise


def describe_conflicts(conflicts: list[dict]) -> str:
    return "; ".join(
        f"subject {c['subject']} holds version {c['registered_version']} (id {c['registered_id']}), which conflicts "
        f"with the contract's {c['record']}"
        + (f" (version {c['contract_version']}, id {c['contract_id']})" if c.get("contract_version") else "")
        for c in conflicts
    )


def check_contract(settings: Settings) -> None:
    """Raise ContractConflict, naming the subjects and the repair, when the registry reports conflicts."""
    conflicts = contract_conflicts(settings)
    if conflicts:
        raise ContractConflict(
            f"the schema registry at {settings.registry_url} reports {len(conflicts)} subject(s) in conflict with "
            f"casehub's contract: {describe_conflicts(conflicts)}. Nothing was published; run `{REPAIR}` (see README, "
            "schema registry), then try again"
        )


def _warn_if_exposed(log, what: str, host: str) -> None:
    if not is_loopback(host):
        log.warning(f"{what} listens beyond the loopback address, as configured", host=host)


def web_access(settings: Settings):
    """The web view's tokens by role (casehub.ground.access): CASEHUB_WEB_TOKENS, else the operator token
    `casehub up` keeps in this home; plus the sample courts' tokens and the courts' secrets.

    Raises:
        SettingsError: no token at all.
    """
    from casehub.ground.access import AccessError, load_access

    home = HomeSecrets(settings.home)
    try:
        access = load_access(settings)
    except AccessError as exc:
        raise SettingsError(str(exc)) from exc
    if access:
        return access
    raise SettingsError(
        "the web view needs a token: set CASEHUB_WEB_TOKENS=viewer:<token> (integrator:<token> for a role that also "
        f"sees identity hashes), or run `casehub up` once, which keeps an operator token in {home.path(OPERATOR_TOKEN)}"
    )


def run_registry(settings: Settings) -> None:
    from casehub.schemas.contract import default_contract
    from casehub.schemas.registry.auth import RegistryAccess
    from casehub.schemas.registry.guard import ContractGuard
    from casehub.schemas.registry.server import serve
    from casehub.schemas.registry.store import KafkaSchemaStore

    async def main():
        log = get_logger("registry")
        guard = ContractGuard.for_contract(
            default_contract(), settings.topic_prefix, settings.registry_allow_contract_changes
        )
        store = KafkaSchemaStore(clients_for(settings), settings.topics.schemas, settings.replication_factor, guard)
        access = RegistryAccess(settings.registry_credentials, settings.registry_token, settings.registry_reads_open)
        # The hub's own schemas are registered before the first request is served, so consumers find them before
        # any data flows; a subject that conflicts is reported and the registry serves on (it never exits for it).
        runner = await serve(store, settings.registry_host, settings.registry_port, access)
        conflicts = store.conflicts()
        log.info(
            "schema registry listening",
            url=settings.registry_url,
            topic=settings.topics.schemas,
            contract_subjects=len(guard.subjects),
            conflicts=len(conflicts),
        )
        for conflict in conflicts:
            log.error("contract subject conflicts with a registered schema", **conflict.as_dict(), repair=REPAIR)
        if not access.writable:
            log.warning(
                "no registry credential configured: writes over HTTP are refused (CASEHUB_REGISTRY_CREDENTIALS)"
            )
        if not settings.registry_reads_open:
            log.warning(
                "registry listens beyond the loopback address; reads need the credential", host=settings.registry_host
            )
        if settings.registry_allow_contract_changes:
            log.warning("CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES is on: writers may delete or break casehub's subjects")
        stopped = await _until_signal([])
        await stopped.wait()
        await runner.cleanup()
        await store.stop()
        log.info("schema registry stopped")

    asyncio.run(main())


def run_web(settings: Settings) -> None:
    """The case view's page, JSON API and the courts' callback endpoint (FastAPI on uvicorn)."""
    from casehub.sinks.web import serve

    access = web_access(settings)

    async def main():
        log = get_logger("web")
        stop = asyncio.Event()
        await _until_signal([stop.set])
        roles = sorted({r.name for r in access.tokens.values()})
        log.info("web view listening", url=settings.web_url, openapi=settings.web_url + "/openapi.json", roles=roles)
        _warn_if_exposed(log, "web view", settings.web_host)
        await serve(settings, stop, access)

    asyncio.run(main())


def run_relay(settings: Settings) -> None:
    """The confirmation relay: the outbox's requests to the courts."""
    from casehub.sinks.confirmation_relay import run_relay as relay

    async def main():
        stop = asyncio.Event()
        await _until_signal([stop.set])
        await relay(settings, stop)

    asyncio.run(main())


def run_court_sim(settings: Settings, config, port: int | None = None) -> None:
    from casehub.run.court_sim import serve_sim

    async def main():
        stop = asyncio.Event()
        await _until_signal([stop.set])
        get_logger("court-sim").info(
            "court simulator listening", url=f"http://{settings.web_host}:{port or settings.court_sim_port}"
        )
        await serve_sim(settings, config, stop, port)

    asyncio.run(main())


def run_rebuild(settings: Settings, url: str | None, progress: bool) -> dict:
    from casehub.sinks.rebuild import rebuild_view

    return asyncio.run(rebuild_view(settings, codec_for(settings), url, progress))


def run_sink(settings: Settings) -> None:
    from casehub.sinks.case_view_sink import make_sink

    async def main():
        sink = make_sink(settings, codec_for(settings))
        await _until_signal([sink.stop])
        await sink.run()

    asyncio.run(main())


def run_worker(settings: Settings) -> None:
    """The stream worker until SIGINT or SIGTERM; a failure (a broker away too long) restarts it after a pause
    (it resumes from its state topic and committed offsets)."""
    from casehub.streams.worker import LinkWorker, load_rules

    async def main():
        log = get_logger("worker")
        rules = load_rules(settings)  # a bad rules file stops the worker at once, with its message
        stop = asyncio.Event()
        await _until_signal([stop.set])
        backoff = 1.0
        while not stop.is_set():
            try:
                await LinkWorker(settings, rules=rules).run(stop)
                return
            except Exception as exc:
                log.error(
                    "stream worker failed; starting again", error=f"{type(exc).__name__}: {exc}", retry_in=backoff
                )
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 60.0)

    asyncio.run(main())


def run_connect(settings: Settings, names: list[str] | None = None) -> None:
    from casehub.connectors.runner import run_connectors

    async def main():
        log = get_logger("connect")
        stop = asyncio.Event()
        await _until_signal([stop.set])
        try:
            stats = await run_connectors(settings, names, stop)
        except LookupError as exc:
            raise SystemExit(f"connect: {exc}") from exc
        log.info("connect stopped", **{k: v for k, v in stats.items()})

    asyncio.run(main())


@contextlib.asynccontextmanager
async def _publishing(settings: Settings):
    """The topics exist, the contract is registered, and a started producer: (publisher, codec).

    Raises:
        ContractConflict: the registry reports casehub subjects it cannot use (nothing is published).
    """
    await asyncio.to_thread(check_contract, settings)
    kafka = clients_for(settings)
    await ensure_topics(kafka, settings.topics.specs(settings.partitions), settings.replication_factor)
    codec = codec_for(settings)
    await asyncio.to_thread(codec.register_all)
    producer = kafka.producer()
    await producer.start()
    try:
        yield KafkaPublisher(producer), codec
    finally:
        await producer.stop()


def run_intake(settings: Settings) -> None:
    from casehub.connectors.intake import RecoveringPublisher, serve

    hmac_secret(settings)  # push intake is real data: no CASEHUB_HMAC_SECRET, no start

    async def main():
        log = get_logger("intake")
        kafka = clients_for(settings)
        await ensure_topics(kafka, settings.topics.specs(settings.partitions), settings.replication_factor)
        codec = codec_for(settings)
        await asyncio.to_thread(codec.register_all)
        # its own producer, bounded and replaced after failures: the endpoint outlives broker outages
        publisher = RecoveringPublisher(kafka, log=log)
        await publisher.start()
        try:
            runner = await serve(settings, codec, publisher)
            log.info(
                "push intake listening", url=f"http://{settings.intake_host}:{settings.intake_port}/intake/<source>"
            )
            _warn_if_exposed(log, "push intake", settings.intake_host)
            stopped = await _until_signal([])
            await stopped.wait()
            await runner.cleanup()
        finally:
            await publisher.stop()

    asyncio.run(main())


def run_import(settings: Settings, source: str, path: str, encoding: str, sheet: str | None) -> list[dict]:
    """Import one spreadsheet through a source's mapping; returns the per-record results."""
    from casehub.connectors.intake import IntakeProcessor
    from casehub.connectors.spreadsheets import read_table_file

    hmac_secret(settings)  # before reading the file: refuses real data without CASEHUB_HMAC_SECRET

    async def main():
        rows = read_table_file(path, encoding, sheet)
        async with _publishing(settings) as (publisher, codec):
            processor = IntakeProcessor(settings, codec, publisher)
            results = []
            for i in range(0, len(rows), 1000):
                results += await processor.submit(source, rows[i : i + 1000], "import")
                print(f"casehub: imported {min(i + 1000, len(rows))}/{len(rows)} rows", flush=True)
            return results

    return asyncio.run(main())

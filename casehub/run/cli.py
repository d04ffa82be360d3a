"""The `casehub` command: run the hub, its parts and its tools."""

from __future__ import annotations

import argparse
import json
import sys

from casehub.ground.logs import configure_logging
from casehub.ground.settings import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="casehub",
        description="Integration hub for labour and personnel dispute handling (mediation, arbitration, courts, "
        "inspection) over Apache Kafka. Settings come from CASEHUB_* environment variables (see README).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help=(
            "run the whole hub in the foreground (local broker, registry, worker, sink, web, court-sim and relay on "
            "sample data, connectors) and print a sign-in link for the web view; Ctrl-C stops it all"
        ),
    )
    up.add_argument(
        "--cases",
        type=int,
        default=20,
        help="cases in the sample databases created when no agency database is configured (default 20)",
    )

    st = sub.add_parser("status", help="print the live endpoints and which components run")
    st.add_argument("--json", action="store_true", help="machine-readable output")

    br = sub.add_parser("broker", help="manage the local single-node Kafka broker (KRaft)")
    br.add_argument("action", choices=["start", "stop", "status"])
    br.add_argument("--json", action="store_true", help="machine-readable output (status)")

    sub.add_parser(
        "registry",
        help="serve the embedded Confluent-compatible schema registry (foreground; writes need "
        "CASEHUB_REGISTRY_CREDENTIALS)",
    )
    sub.add_parser(
        "worker",
        help="run the stream worker that links agency events to cases and merges them into case records (foreground)",
    )
    sub.add_parser("sink", help="run the case-view sink: unified case topic to SQL (foreground)")
    sub.add_parser(
        "web",
        help="serve the case view's web page, JSON API (OpenAPI at /openapi.json) and the courts' callback endpoint "
        "(foreground; needs CASEHUB_WEB_TOKENS or the home's operator token)",
    )
    sub.add_parser("relay", help="deliver judicial-confirmation requests from the outbox to the courts (foreground)")
    cs = sub.add_parser(
        "court-sim",
        help="a reference court endpoint for demos and tests: receipts, failures, duplicates, callbacks with rulings",
    )
    cs.add_argument("--port", type=int, default=None, help="port (default CASEHUB_COURT_SIM_PORT, 18084)")
    cs.add_argument(
        "--fail-share",
        type=float,
        default=None,
        help="share of first deliveries answered 503 or left past the relay's time-out "
        "(default CASEHUB_COURT_SIM_FAIL_SHARE, 0)",
    )
    cs.add_argument(
        "--hang", type=float, default=8.0, help="seconds a 'time-out' answer takes (default 8, over the relay's 5)"
    )
    cs.add_argument("--reject-share", type=float, default=0.2, help="share of applications rejected (default 0.2)")
    cs.add_argument(
        "--delays",
        default="0.2,0.5,1.0",
        help="seconds before the RECEIVED, ACCEPTED and ruling callbacks (default 0.2,0.5,1.0)",
    )
    rb = sub.add_parser(
        "rebuild-view", help="rebuild the case view from the topics (same content as the live one), with progress"
    )
    rb.add_argument("--url", default=None, help="SQLAlchemy URL of the view to rebuild (default CASEHUB_CASE_VIEW_URL)")
    rb.add_argument("--no-progress", action="store_true", help="no progress bar")
    cn = sub.add_parser(
        "connect", help="run the agency database connectors (foreground), or check a mapping with --dry-run"
    )
    cn.add_argument(
        "--source",
        action="append",
        help="connector name (mapping); repeat for several (default: every mapping with a database)",
    )
    cn.add_argument(
        "--dry-run",
        action="store_true",
        help="map the first rows and print every event and every error; publish nothing",
    )
    cn.add_argument("--limit", type=int, default=20, help="rows per source for --dry-run (default 20)")
    cn.add_argument("--json", action="store_true", help="--dry-run output as JSON")

    sub.add_parser(
        "intake",
        help="serve the authenticated push endpoint POST /intake/<source> (needs CASEHUB_INTAKE_TOKENS and "
        "CASEHUB_HMAC_SECRET)",
    )
    im = sub.add_parser(
        "import", help="import an .xlsx or .csv file through a source's mapping (small mediation organisations)"
    )
    im.add_argument(
        "--source",
        required=True,
        help="connector name whose mapping reads the file (columns = the mapping's column names)",
    )
    im.add_argument("file", help="path of the .xlsx or .csv file")
    im.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="text encoding of a .csv (default utf-8-sig; gbk for files saved by Chinese Excel)",
    )
    im.add_argument("--sheet", default=None, help="worksheet name in an .xlsx (default: the first)")

    bn = sub.add_parser("bench", help="benchmarks (figures, not tests): `bench connector` times a snapshot into Kafka")
    bn.add_argument("what", choices=["connector"])
    bn.add_argument("--rows", type=int, default=100000, help="rows in the generated source table (default 100000)")
    bn.add_argument("--batch-size", type=int, default=5000, help="rows per read and publish batch (default 5000)")
    bn.add_argument(
        "--profile", action="store_true", help="profile with pyinstrument and write the report beside the data"
    )
    bn.add_argument(
        "--workers",
        type=int,
        default=0,
        help="read, map and encode in this many worker processes (default 0: in the connector's own process)",
    )
    bn.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="where the generated table lives: a SQLite file (default), or a table of its own in --url (dropped after)",
    )
    bn.add_argument("--url", help="SQLAlchemy URL of the PostgreSQL database for --database postgresql")
    bn.add_argument(
        "--paged",
        action="store_true",
        help="read the snapshot in (cursor, key) pages as polls do, not in one streamed scan (for comparisons)",
    )
    bn.add_argument(
        "--rounds",
        type=int,
        default=1,
        help=(
            "repeat the snapshot this many times (fresh topics each) and report every round and the median (default 1)"
        ),
    )

    sc = sub.add_parser(
        "schemas",
        help="the Avro contract: check it against released versions, release a new version, list topics, repair the "
        "registry",
    )
    sc.add_argument(
        "action",
        choices=["check", "release", "list", "status", "repair"],
        help="check: can the current schemas read every released version; "
        "release: write schemas/released/<record>/vN.avsc for changed records; list: topic -> record -> subject; "
        "status: the registry's conflicts with the contract; repair: restore the contract in every conflicting "
        "subject of the hub's registry (soft-deletes the versions in the way; needs the registry's credential)",
    )

    lk = sub.add_parser(
        "link", help="correct linking: take a record out of its case (split) or make two cases one (join)"
    )
    lk.add_argument("action", choices=["split", "join"])
    lk.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="SYSTEM:RECORD_ID",
        help="a source record as the case page names it (e.g. ln-arbitration:12); repeat for join",
    )
    lk.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="CASE_ID",
        help="a case, standing for the record its id derives from; repeat for join",
    )
    lk.add_argument("--reason", default="", help="why (kept with the correction)")
    lk.add_argument("--operator", default=None, help="who (default: the login name)")

    vf = sub.add_parser(
        "verify",
        help="compare the case view with the sample's ground truth: linking precision and recall, "
        "stage, flag and deadline accuracy",
    )
    vf.add_argument("--truth", default=None, help="ground_truth.json (default: the sample folder's)")
    vf.add_argument("--json", action="store_true", help="machine-readable output")

    sm = sub.add_parser(
        "sample",
        help=(
            "create the four sample agency databases (mediation, arbitration, court, inspection) and ground_truth.json"
        ),
    )
    sm.add_argument("--cases", type=int, default=20, help="number of cases (default 20)")
    sm.add_argument(
        "--out",
        default=None,
        help=(
            "folder for the databases (default: CASEHUB_SAMPLE_DIR or <home>/sample); existing sample files there "
            "are replaced"
        ),
    )
    sm.add_argument(
        "--seed",
        type=int,
        default=7,
        help="random seed: the same seed, count and --today give the same databases (default 7)",
    )
    sm.add_argument(
        "--today",
        type=_date,
        default=None,
        help=(
            "the day the sample is made, YYYY-MM-DD (default: today in China): a few agreements are dated weeks "
            "before it, still waiting for an application for judicial confirmation, and a few past their 30 days"
        ),
    )
    return p


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"casehub: settings error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.command, settings.log_level, settings.log_format)

    if args.command == "broker":
        from casehub.run.broker import BrokerError
        from casehub.run.stack import local_broker

        broker = local_broker(settings)
        try:
            if args.action == "start":
                info = broker.start()
                print(info.bootstrap)
                print(
                    f"casehub: broker pid {info.pid}, data in {info.data_dir}, logs in {info.log_file}", file=sys.stderr
                )
            elif args.action == "stop":
                print("stopped" if broker.stop() else "no broker was running")
            else:
                info = broker.info()
                if args.json:
                    print(json.dumps({"running": info is not None, **(info.__dict__ if info else {})}))
                else:
                    print(f"running at {info.bootstrap} (pid {info.pid})" if info else "not running")
                return 0 if info else 1
        except BrokerError as exc:
            print(f"casehub: {exc}", file=sys.stderr)
            return 1
        return 0

    if args.command == "up":
        from casehub.run.stack import up

        return up(settings, args.cases)

    if args.command == "status":
        from casehub.run.stack import status

        state = status(settings)
        if args.json:
            print(json.dumps(state, ensure_ascii=False, indent=2))
        else:
            for key, value in state.items():
                if key != "components":
                    print(f"{key:20} {value}")
            for name, c in state["components"].items():
                shown = "running" if c["running"] else "stopped"
                if c["running"] and c.get("accepting") is False:
                    shown = "running, NOT accepting records (Kafka unreachable: see its /healthz)"
                print(f"{name:20} {shown} (pid {c.get('pid')})")
        return 0 if state["running"] else 1

    if args.command == "bench":
        from casehub.run.bench import bench_connector

        if args.rounds < 1 or args.rows < 1 or args.batch_size < 1:
            print("casehub bench: --rows, --batch-size and --rounds must be at least 1", file=sys.stderr)
            return 2
        try:
            result = bench_connector(
                settings,
                args.rows,
                args.batch_size,
                args.profile,
                args.workers,
                args.rounds,
                database=args.database,
                url=args.url,
                paged=args.paged,
            )
        except ValueError as exc:
            print(f"casehub bench: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(result, indent=2))
        return 0

    if args.command == "schemas":
        from casehub.schemas.codec import subject_for
        from casehub.schemas.contract import TOPIC_RECORDS, default_contract
        from casehub.schemas.evolution import check, release, unreleased

        if args.action in ("status", "repair"):
            return _schemas_registry(settings, args.action)
        contract = default_contract()
        if args.action == "list":
            for topic, record in TOPIC_RECORDS.items():
                print(f"{settings.topic_prefix + topic:40} {record:32} {subject_for(settings.topic_prefix + topic)}")
            return 0
        if args.action == "check":
            problems = check(contract)
            for p in problems:
                print(f"casehub: {p}", file=sys.stderr)
            pending = unreleased(contract)
            if pending:
                print(f"casehub: not yet released (run `casehub schemas release`): {', '.join(pending)}")
            print("compatible with every released version" if not problems else f"{len(problems)} incompatibilities")
            return 1 if problems else 0
        try:
            written = release(contract)
        except ValueError as exc:
            print(f"casehub: {exc}", file=sys.stderr)
            return 1
        print("\n".join(str(p) for p in written) or "nothing changed since the last release")
        return 0

    if args.command == "link":
        from casehub.run.link import LinkError, run

        try:
            value = run(settings, args.action, args.record, args.case, args.operator, args.reason)
        except LinkError as exc:
            print(f"casehub: {exc}", file=sys.stderr)
            return 2
        names = ", ".join(f"{r['system']}:{r['record_id']}" for r in value["records"])
        print(f"casehub: {value['action'].lower()} {names}: correction {value['correction_id']} published")
        return 0

    if args.command == "verify":
        from casehub.run.verify import VerifyError, render, verify

        try:
            report = verify(settings, args.truth)
        except VerifyError as exc:
            print(f"casehub: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
        return 0

    if args.command == "sample":
        from pathlib import Path

        from casehub.connectors.samples.databases import create_sample_databases

        out = Path(args.out) if args.out else settings.samples
        summary = create_sample_databases(out, args.cases, args.seed, args.today)
        print(f"casehub: sample of {args.cases} cases (seed {args.seed}) dated as of {summary['today']}")
        for system, path in summary["paths"].items():
            counts = ", ".join(f"{table} {n}" for table, n in summary["rows"].get(system, {}).items())
            print(f"casehub: {system:12} {path}" + (f" ({counts})" if counts else ""))
        return 0

    try:
        return _component(args, settings)
    except SettingsError as exc:
        print(f"casehub: settings error: {exc}", file=sys.stderr)
        return 2


def _schemas_registry(settings, action: str) -> int:
    """`casehub schemas status|repair` against the hub's registry (credential: settings, else this home's)."""
    from casehub.ground.secrets import registry_auth
    from casehub.schemas.registry.client import RegistryClient, RegistryClientError, RegistryUnavailable

    credentials, token = registry_auth(settings)
    client = RegistryClient(settings.registry_url, credentials=credentials, token=token, retry_for=5)
    try:
        if action == "status":
            report = client.casehub_status()
            conflicts = report["contract"]["conflicts"]
        else:
            report = client.casehub_repair()
            for entry in report["repaired"]:
                deleted = ", ".join(f"v{d['version']} (id {d['id']})" for d in entry["deleted_versions"]) or "nothing"
                outcome = (
                    f"error: {entry['error']}"
                    if "error" in entry
                    else f"the contract's schema is version {entry['contract_version']} (id {entry['contract_id']})"
                )
                print(f"casehub: {entry['subject']}: soft-deleted {deleted}; {outcome}")
            if not report["repaired"]:
                print("casehub: nothing to repair")
            conflicts = report["conflicts"]
    except RegistryClientError as exc:
        hint = ""
        if exc.status == 404:
            hint = " (only casehub's own registry has this; on another registry delete the conflicting versions)"
        elif exc.status in (401, 403):
            hint = " (set CASEHUB_REGISTRY_CREDENTIALS, or run this where the hub's CASEHUB_HOME is)"
        print(f"casehub: {exc}{hint}", file=sys.stderr)
        return 1
    except RegistryUnavailable as exc:
        print(f"casehub: {exc}", file=sys.stderr)
        return 1
    from casehub.schemas.registry.guard import Conflict

    for c in conflicts:
        print(f"casehub: conflict: {Conflict(**c)}")
    if action == "status" and not conflicts:
        print(f"casehub: {settings.registry_url}: every contract subject is in order")
    return 1 if conflicts else 0


def _component(args, settings) -> int:
    from casehub.run import components as services
    from casehub.schemas.registry.client import RegistryClientError, RegistryUnavailable

    if args.command == "worker":
        try:
            services.run_worker(settings)
        except SettingsError as exc:
            print(f"casehub: settings error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "registry":
        services.run_registry(settings)
    elif args.command == "sink":
        services.run_sink(settings)
    elif args.command == "web":
        services.run_web(settings)
    elif args.command == "relay":
        services.run_relay(settings)
    elif args.command == "court-sim":
        from casehub.run.court_sim import SimConfig

        try:
            delays = tuple(float(d) for d in args.delays.split(","))
            assert len(delays) == 3
        except (ValueError, AssertionError):
            print("casehub court-sim: --delays takes three numbers, e.g. 0.2,0.5,1.0", file=sys.stderr)
            return 2
        share = settings.court_sim_fail_share if args.fail_share is None else args.fail_share
        if not 0 <= share <= 1 or not 0 <= args.reject_share <= 1:
            print("casehub court-sim: --fail-share and --reject-share are shares between 0 and 1", file=sys.stderr)
            return 2
        config = SimConfig(
            fail_share=share,
            hang_seconds=args.hang,
            reject_share=args.reject_share,
            delays=delays,
            callback_url=settings.web_url + "/api/court/callbacks",
        )
        services.run_court_sim(settings, config, args.port)
    elif args.command == "rebuild-view":
        counts = services.run_rebuild(settings, args.url, not args.no_progress)
        print("casehub: case view rebuilt: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    elif args.command == "intake":
        services.run_intake(settings)
    elif args.command == "import":
        from casehub.connectors.intake import IntakeError

        try:
            results = services.run_import(settings, args.source, args.file, args.encoding, args.sheet)
        except IntakeError as exc:
            print(f"casehub: {exc}", file=sys.stderr)
            return 2
        except (services.ContractConflict, RegistryClientError, RegistryUnavailable) as exc:
            print(f"casehub: import stopped: {exc}", file=sys.stderr)
            return 1
        for r in results:
            if not r["ok"]:
                print(
                    f"casehub: record {r['record_id']}: field {r['field']}: {r['reason']} [{r['kind']}] -> "
                    "dead-letter topic"
                )
        bad = sum(not r["ok"] for r in results)
        print(f"casehub: {len(results)} records: {len(results) - bad} published, {bad} to the dead-letter topic")
        return 1 if bad else 0
    elif args.command == "connect":
        if args.dry_run:
            from casehub.connectors.dry_run import dry_run, dry_run_json, render_dry_run
            from casehub.connectors.mapping import MappingFileError

            try:
                report = dry_run(settings, args.source, args.limit)
            except (LookupError, MappingFileError) as exc:
                print(f"casehub: {exc}", file=sys.stderr)
                return 2
            print(dry_run_json(report) if args.json else render_dry_run(report))
            return 0 if all(line["ok"] for line in report) else 1
        services.run_connect(settings, args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())

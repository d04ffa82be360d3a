"""Mediation agreements written into a sample mediation database the way the platform records them (tj_ajxx rows
in state 40, agreement signed), for the judicial-confirmation tests: eligible ones dated near today, and ones that
must not be sent (no consent, an organisation not lawfully established or not in the roster, past the deadline)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path

from casehub.connectors.sample import make_credit_code, make_id_number, make_name, make_phone

KINDS = {"ENTERPRISE_COMMITTEE": "01", "TOWNSHIP_STREET": "02", "INDUSTRY": "03", "REGIONAL": "04"}
COURTS = ("辽0102", "辽0103", "辽0104")  # basic courts of the sample's court directory (a delegated mediation's court)
UNLAWFUL = {
    "code": "MO-TEST-UNLAWFUL",
    "name": "和平区测试街道劳动争议调解委员会",
    "kind": "TOWNSHIP_STREET",
    "division_code": "210102",
    "lawfully_established": False,
}


@dataclass(frozen=True)
class Agreement:
    number: str  # the mediation case number (= agreement number)
    why: str  # eligible | no_consent | not_lawful | not_in_roster | late
    division: str  # the employer's and the case's division: its basic court has jurisdiction
    effective: dt.date
    id_number: str
    delegated_by: str | None = None  # the court that delegated the mediation: it has jurisdiction, not the place's
    organisation: dict | None = None  # the mediation organisation as a roster would list it

    @property
    def court_code(self) -> str:
        return self.delegated_by or f"辽{self.division[2:]}"

    @property
    def deadline(self) -> dt.date:
        return self.effective + dt.timedelta(days=30)


def roster_orgs(sample_dir: Path) -> list[dict]:
    with open(Path(sample_dir) / "roster.toml", "rb") as f:
        return tomllib.load(f)["organisation"]


def add_agreements(sample_dir: Path, today: dt.date, plan: dict[str, int], seed: int = 1) -> list[Agreement]:
    """Insert agreements: plan maps a kind (eligible, delegated, no_consent, not_lawful, not_in_roster, late) to a
    count. A delegated one is eligible, from a mediation a court of another district delegated (委派调解)."""
    rng = random.Random(seed)
    orgs = roster_orgs(sample_dir)
    lawful = [o for o in orgs if o["lawfully_established"] and o["kind"] in KINDS]
    unlawful = [o for o in orgs if not o["lawfully_established"] and o["kind"] in KINDS]
    if plan.get("not_lawful") and not unlawful:  # the roster lists one organisation that was not lawfully established
        unlawful = [UNLAWFUL]
        with open(Path(sample_dir) / "roster.toml", "a", encoding="utf-8") as f:
            f.write(
                f'\n[[organisation]]\ncode = "{UNLAWFUL["code"]}"\nname = "{UNLAWFUL["name"]}"\n'
                f'kind = "{UNLAWFUL["kind"]}"\ndivision_code = "{UNLAWFUL["division_code"]}"\n'
                "lawfully_established = false\n"
            )
    db = Path(sample_dir) / "mediation.db"
    out = []
    with sqlite3.connect(db) as conn:
        start = conn.execute("SELECT coalesce(max(ajid), 0) FROM tj_ajxx").fetchone()[0] + 1000
        n = 0
        for why, count in plan.items():
            for _ in range(count):
                n += 1
                org = rng.choice(unlawful if why == "not_lawful" else lawful)
                name = org["name"] if why != "not_in_roster" else f"未登记{n}号劳动争议调解委员会"
                division = org["division_code"]
                effective = today - dt.timedelta(days=40 if why == "late" else rng.randrange(1, 8))
                signed = dt.datetime.combine(effective, dt.time(10, 0))
                number = f"沈和调〔{effective.year}〕{9000 + n}号"
                id_number = make_id_number(rng, division)
                delegated = next(c for c in COURTS if c != f"辽{division[2:]}") if why == "delegated" else None
                terms = f"被申请人于{effective + dt.timedelta(days=10)}前支付工资9000.00元"
                conn.execute(
                    "INSERT INTO tj_ajxx (ajid, ajbh, zt, sqr_xm, sqr_sfzh, sqr_sjh, bsqr_mc, bsqr_xydm, tjzz_mc, "
                    "tjzz_lx, xzqh, qqlx, qqje, xyje, xysxrq, sfsqsfqr, nmg, sqsj, gxsj, sqr_zz, bsqr_zs, bsqr_fddbr, "
                    "xynr, xywj_dz, xywj_hash, wpfy) "
                    "VALUES (?, ?, '40', ?, ?, ?, ?, ?, ?, ?, ?, 'GZ', '12000.00', '9000.00', ?, ?, '0', ?, ?, "
                    "?, ?, ?, ?, ?, ?, ?)",
                    (
                        start + n,
                        number,
                        make_name(rng),
                        id_number,
                        make_phone(rng),
                        f"沈阳测试{n}号商贸有限公司",
                        make_credit_code(rng, division),
                        name,
                        KINDS[org["kind"]],
                        division,
                        effective.isoformat(),
                        "N" if why == "no_consent" else "Y",
                        f"{signed - dt.timedelta(days=10):%Y-%m-%d %H:%M:%S}",
                        f"{signed:%Y-%m-%d %H:%M:%S}",
                        f"沈阳市和平区测试街{n}号",
                        f"沈阳市沈河区测试路{n}号",
                        make_name(rng),
                        terms,
                        f"file:///data/tiaojie/xys/{start + n}.pdf",
                        hashlib.sha256(terms.encode()).hexdigest(),
                        delegated,
                    ),
                )
                listed = {**org, "name": name}
                becomes = "eligible" if why == "delegated" else why
                out.append(Agreement(number, becomes, division, effective, id_number, delegated, listed))
    return out


def sample_agreements(sample_dir: Path, cases: int, today: dt.date, seed: int = 7) -> list[Agreement]:
    """The agreements of `casehub sample` itself (the same journeys, worked out again) and what should become of
    each, from the journey and the roster alone: eligible (both consents, a lawful organisation in the roster, no
    court case, within 30 days of taking effect), late, no_consent, not_lawful, not_in_roster or at_court.

    The court with jurisdiction: the basic court of the employer's place (its credit code), since the sample's
    mediation rows record no worker's domicile and no delegating court (routing's order: party_domicile first).
    """
    from casehub.connectors.samples.journeys import generate

    roster = {o["name"]: o["lawfully_established"] for o in roster_orgs(sample_dir)}
    out = []
    for case in generate(cases, seed, today):
        at_court = any(p.agency == "court" and p.kind == "民特" for p in case.proceedings)
        for p in case.of("mediation"):
            if p.agreed_on is None or p.last.status not in ("40", "70", "80"):
                continue
            if not p.confirm_consent:
                why = "no_consent"
            elif p.org_name not in roster:
                why = "not_in_roster"
            elif not roster[p.org_name]:
                why = "not_lawful"
            elif at_court:
                why = "at_court"
            elif today > p.agreed_on + dt.timedelta(days=30):
                why = "late"
            else:
                why = "eligible"
            out.append(Agreement(p.number, why, case.employer.credit_code[2:8], p.agreed_on, p.workers[0].id_number))
    return out

"""arbitration.db: an English-named arbitration system with integer status codes, amounts in fen and
epoch-millisecond times."""

from __future__ import annotations

import sqlalchemy as sa

SYSTEM = "arbitration"
STATUS = {
    1: "APPLIED",
    2: "ACCEPTED",
    3: "REFUSED",
    4: "REFERRED_TO_PRE_ARBITRATION_MEDIATION",
    5: "SETTLED_BY_MEDIATION",
    6: "HEARING_SCHEDULED",
    7: "AWARD_FINAL",
    8: "AWARD_NON_FINAL",
    9: "WITHDRAWN",
    10: "TIME_LIMIT_EXTENDED",
}
CLAIM_TYPE = {
    "C01": "WAGES",
    "C02": "OVERTIME",
    "C03": "ECONOMIC_COMPENSATION",
    "C04": "DAMAGES",
    "C05": "WORK_INJURY_MEDICAL",
    "C06": "SOCIAL_INSURANCE",
    "C99": "OTHER",
}
EMPLOYMENT_TYPE = {1: "STANDARD", 2: "DISPATCHED", 3: "NEW_EMPLOYMENT_FORM"}  # 3: platform riders and the like
CLAIM_CODE = {name: code for code, name in CLAIM_TYPE.items()}
EMPLOYMENT_CODE = {"regular": 1, "migrant": 1, "dispatched": 2, "rider": 3}

metadata = sa.MetaData()
# All *_at columns: INTEGER epoch milliseconds, UTC. updated_at is the cursor (then id).
arb_case = sa.Table(
    "arb_case",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_no", sa.String(32), nullable=False),  # receipt number, issued on application
    sa.Column("case_no", sa.String(64)),  # issued on acceptance; NULL while applied/referred, or when refused/settled
    sa.Column("commission", sa.String(128), nullable=False),
    sa.Column("division_code", sa.String(6), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("claimant_name", sa.String(64)),
    sa.Column("claimant_id_no", sa.String(32)),
    sa.Column("claimant_phone", sa.String(32)),
    sa.Column("claimant_address", sa.String(256)),
    sa.Column("respondent_name", sa.String(128)),
    sa.Column("respondent_credit_code", sa.String(32)),
    sa.Column("co_respondent_name", sa.String(128)),  # dispatched workers: the user unit (用工单位)
    sa.Column("co_respondent_credit_code", sa.String(32)),
    sa.Column("employment_type", sa.Integer, nullable=False),
    sa.Column("is_migrant", sa.Integer, nullable=False),
    sa.Column("is_group", sa.Integer, nullable=False),
    sa.Column("worker_count", sa.Integer, nullable=False),  # 1 for individual cases
    sa.Column("claim_type", sa.String(4), nullable=False),
    sa.Column("claim_amount_fen", sa.Integer),  # group cases: total of all workers
    sa.Column("mediation_case_no", sa.String(64)),  # prior / pre-arbitration mediation case (tj_ajxx.ajbh)
    sa.Column("inspection_complaint_no", sa.String(64)),  # complaint handed over by labour inspection
    sa.Column("applied_at", sa.Integer, nullable=False),
    sa.Column("accepted_at", sa.Integer),
    sa.Column("hearing_at", sa.Integer),
    sa.Column("closed_at", sa.Integer),  # refused, settled or award date
    sa.Column("award_final", sa.Integer),  # 1 final (art 47), 0 non-final, NULL no award
    sa.Column("award_amount_fen", sa.Integer),  # per worker
    sa.Column("settlement_amount_fen", sa.Integer),  # status 5, per worker
    sa.Column("updated_at", sa.Integer, nullable=False),
    sa.Index("arb_case_updated", "updated_at", "id"),
)
arb_case_status = sa.Table(
    "arb_case_status",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, nullable=False, index=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.Integer, nullable=False),
)
# Group cases only: one row per worker (the representative is also on arb_case).
arb_case_party = sa.Table(
    "arb_case_party",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, nullable=False, index=True),
    sa.Column("is_representative", sa.Integer, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("id_no", sa.String(32)),
    sa.Column("phone", sa.String(32)),
    sa.Column("claim_amount_fen", sa.Integer),
)
MAIN = arb_case


def ms(ts) -> int | None:
    return None if ts is None else int(ts.timestamp()) * 1000


def rows(cases) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    main, history, parties, owners, seen = [], [], [], [], {}
    for case in cases:
        for p in case.of("arbitration"):
            if p.uid in seen:
                owners.append((case.key, seen[p.uid]))
                continue
            cid = len(main) + 1
            seen[p.uid] = str(cid)
            at = {s.status: s.at for s in p.steps}
            worker, last = p.workers[0], p.last.status
            refs = {r.agency: r.number for r in p.refs}
            group = len(p.workers) >= 10
            main.append(
                {
                    "id": cid,
                    "application_no": p.receipt_no,
                    "case_no": p.number,
                    "commission": p.org_name,
                    "division_code": case.division,
                    "status": last,
                    "claimant_name": worker.name,
                    "claimant_id_no": worker.id_number,
                    "claimant_phone": worker.phone,
                    "claimant_address": worker.address,
                    "respondent_name": case.employer.name,
                    "respondent_credit_code": case.employer.credit_code,
                    "co_respondent_name": case.user_employer.name if case.user_employer else None,
                    "co_respondent_credit_code": case.user_employer.credit_code if case.user_employer else None,
                    "employment_type": EMPLOYMENT_CODE[case.category],
                    "is_migrant": int(case.migrant),
                    "is_group": int(group),
                    "worker_count": len(p.workers),
                    "claim_type": CLAIM_CODE[case.claim_type],
                    "claim_amount_fen": case.claim_fen * len(p.workers),
                    "mediation_case_no": refs.get("mediation"),
                    "inspection_complaint_no": refs.get("inspection"),
                    "applied_at": ms(at[1]),
                    "accepted_at": ms(at.get(2)),
                    "hearing_at": ms(at.get(6)),
                    "closed_at": ms(p.last.at) if last in (3, 5, 7, 8, 9) else None,
                    "award_final": None if p.final_award is None else int(p.final_award),
                    "award_amount_fen": p.amount_fen if last in (7, 8) else None,
                    "settlement_amount_fen": p.amount_fen if last == 5 else None,
                    "updated_at": ms(p.last.at),
                }
            )
            history += [{"case_id": cid, "status": s.status, "changed_at": ms(s.at)} for s in p.steps]
            if group:
                parties += [
                    {
                        "case_id": cid,
                        "is_representative": int(i == 0),
                        "name": w.name,
                        "id_no": w.id_number,
                        "phone": w.phone,
                        "claim_amount_fen": case.claim_fen,
                    }
                    for i, w in enumerate(p.workers)
                ]
            owners.append((case.key, str(cid)))
    for table in (history, parties):
        for i, row in enumerate(table, 1):
            row["id"] = i
    return {"arb_case": main, "arb_case_status": history, "arb_case_party": parties}, owners

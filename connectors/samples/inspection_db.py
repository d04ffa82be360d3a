"""inspection.db: a labour-inspection complaint system with mixed camelCase/snake_case names and ISO-8601 '+08:00'
times."""

from __future__ import annotations

import sqlalchemy as sa

SYSTEM = "inspection"
STATUS = ("received", "opened", "order_issued", "to_mediation", "to_arbitration", "to_police", "closed")
ISSUE_TYPE = {
    "wage_arrears": "WAGES",
    "overtime": "OVERTIME",
    "severance": "ECONOMIC_COMPENSATION",
    "injury": "DAMAGES",
    "injury_medical": "WORK_INJURY_MEDICAL",
    "social_insurance": "SOCIAL_INSURANCE",
    "other": "OTHER",
}
ISSUE_CODE = {v: k for k, v in ISSUE_TYPE.items()}

metadata = sa.MetaData()
# Times: TEXT 'YYYY-MM-DDTHH:MM:SS+08:00' (always +08:00, so they sort as strings).
# Cursor: lastModified, then complaint_id.
complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.Integer, primary_key=True),
    sa.Column("complaintNo", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("regionCode", sa.String(6), nullable=False),
    sa.Column("bureau", sa.String(64)),
    sa.Column("complainantName", sa.String(64)),
    sa.Column("complainant_idcard", sa.String(32)),
    sa.Column("complainantMobile", sa.String(32)),
    sa.Column("employerName", sa.String(128)),
    sa.Column("employer_uscc", sa.String(32)),
    sa.Column("employerAddress", sa.String(256)),
    sa.Column("issueType", sa.String(24)),
    sa.Column("amountYuan", sa.Integer),  # claimed arrears, whole yuan (per worker)
    sa.Column("workerCount", sa.Integer, nullable=False),
    sa.Column("isMigrant", sa.String(1), nullable=False),  # 'Y' / 'N'
    sa.Column("newEmploymentForm", sa.String(1), nullable=False),  # 'Y' platform workers (riders)
    sa.Column("receivedAt", sa.String(25), nullable=False),
    sa.Column("openedAt", sa.String(25)),
    sa.Column("closedAt", sa.String(25)),
    sa.Column("handoff_target", sa.String(16)),  # 'arbitration' | 'mediation' | NULL
    sa.Column("handoffCaseNo", sa.String(64)),  # the target agency's case number
    sa.Column("lastModified", sa.String(25), nullable=False),
    sa.Index("ix_complaints_lastModified", "lastModified", "complaint_id"),
)
complaint_log = sa.Table(
    "complaint_log",
    metadata,
    sa.Column("logId", sa.Integer, primary_key=True),
    sa.Column("complaint_id", sa.Integer, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.String(25), nullable=False),
)
# Complaints for several workers (a group complaint): one row per worker named.
complaint_worker = sa.Table(
    "complaint_worker",
    metadata,
    sa.Column("complaint_id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("idcard", sa.String(32)),
    sa.Column("mobile", sa.String(32)),
)
MAIN = complaints


def iso(ts) -> str | None:
    return None if ts is None else ts.isoformat(timespec="seconds")


def rows(cases) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    main, history, workers, owners, seen = [], [], [], [], {}
    for case in cases:
        for p in case.of("inspection"):
            if p.uid in seen:  # a complaint for several workers, in each of their cases
                owners.append((case.key, seen[p.uid]))
                continue
            cid = len(main) + 1
            seen[p.uid] = str(cid)
            at = {s.status: s.at for s in p.steps}
            worker, handoff = p.workers[0], (p.refs[0] if p.refs else None)
            main.append(
                {
                    "complaint_id": cid,
                    "complaintNo": p.number,
                    "status": p.last.status,
                    "regionCode": case.division,
                    "bureau": p.org_name,
                    "complainantName": worker.name,
                    "complainant_idcard": worker.id_number,
                    "complainantMobile": worker.phone,
                    "employerName": case.employer.name,
                    "employer_uscc": case.employer.credit_code,
                    "employerAddress": case.employer.address,
                    "issueType": ISSUE_CODE.get(case.claim_type, "other"),
                    "amountYuan": case.claim_fen // 100,
                    "workerCount": len(p.workers) if len(p.workers) > 1 else len(case.workers),
                    "isMigrant": "Y" if case.migrant else "N",
                    "newEmploymentForm": "Y" if case.category == "rider" else "N",
                    "receivedAt": iso(p.steps[0].at),
                    "openedAt": iso(at.get("opened")),
                    "closedAt": iso(at.get("closed")),
                    "handoff_target": handoff.agency if handoff else None,
                    "handoffCaseNo": handoff.number if handoff else None,
                    "lastModified": iso(p.last.at),
                }
            )
            if len(p.workers) > 1:  # every worker a complaint names, the complainant first
                workers += [
                    {"complaint_id": cid, "seq": n, "name": w.name, "idcard": w.id_number, "mobile": w.phone}
                    for n, w in enumerate(p.workers, 1)
                ]
            history += [
                {"logId": len(history) + i, "complaint_id": cid, "status": s.status, "at": iso(s.at)}
                for i, s in enumerate(p.steps, 1)
            ]
            owners.append((case.key, str(cid)))
    return {"complaints": main, "complaint_log": history, "complaint_worker": workers}, owners

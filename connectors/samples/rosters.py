"""The sample's reference data: the roster of mediation organisations and mediators (roster.toml) and the court
directory (courts.toml) beside the sample databases. Deterministic: a function of the journeys.

To exercise the confirmation rules, the roster leaves about one organisation in twelve out (listed on the operator
page as referenced but missing) and marks about one enterprise committee in four as not lawfully established.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from casehub.connectors.samples.identities import PLACES, basic_court

KINDS = {
    "01": "ENTERPRISE_COMMITTEE",
    "02": "TOWNSHIP_STREET",
    "03": "INDUSTRY",
    "04": "REGIONAL",
    "05": "PRE_ARBITRATION",
    "06": "PEOPLES_MEDIATION",
}
SURNAMES, GIVEN = "王李张刘陈杨赵黄周吴", "建华秀英海燕志强明丽文静国庆"


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def court_code(division: str) -> str:
    return f"辽{division[2:]}"


def _q(text) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_reference(out_dir: Path, cases) -> dict[str, Path]:
    """Write roster.toml and courts.toml for the journeys' organisations and courts; returns their paths."""
    orgs: dict[str, tuple[str, str]] = {}
    for case in cases:
        for p in case.of("mediation"):
            orgs.setdefault(p.org_name, (p.kind or "02", case.division))
    lines = ["# Sample roster of mediation organisations and mediators (docs/CONFIRMATION.md)"]
    mediators = []
    for i, (name, (kind, division)) in enumerate(sorted(orgs.items()), 1):
        h = _h(name)
        if h % 12 == 0 and kind != "05":
            continue  # referenced by events, missing from the roster
        code = f"MO-{division}-{i:04d}"
        lawful = not (kind == "01" and h % 4 == 0)
        lines += [
            "",
            "[[organisation]]",
            f"code = {_q(code)}",
            f"name = {_q(name)}",
            f"kind = {_q(KINDS.get(kind, 'OTHER'))}",
            f"division_code = {_q(division)}",
            f"lawfully_established = {'true' if lawful else 'false'}",
            f"contact = {_q(f'024-{20000000 + h % 9999999}')}",
        ]
        mediators.append((f"M-{i:04d}", SURNAMES[h % 10] + GIVEN[(h // 10) % 14] + GIVEN[(h // 140) % 14], code))
    for code, name, org in mediators:
        lines += ["", "[[mediator]]", f"code = {_q(code)}", f"name = {_q(name)}", f"organisation = {_q(org)}"]
    roster = Path(out_dir) / "roster.toml"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    court_lines = [
        "# Sample court directory: the basic court of each sample district (docs/CONFIRMATION.md)",
        "# which place decides among basic courts, first match wins",
        'order = ["party_domicile", "subject_matter", "organisation"]',
    ]
    for division in sorted(PLACES):
        code = court_code(division)
        court_lines += [
            "",
            "[[court]]",
            f"code = {_q(code)}",
            f"name = {_q(basic_court(division))}",
            'level = "BASIC"',
            f"divisions = [{_q(division)}]",
            'delivery = "http"',
            f"endpoint = {_q('{court_sim_url}/courts/' + code + '/confirmations')}",
        ]
    courts = Path(out_dir) / "courts.toml"
    courts.write_text("\n".join(court_lines) + "\n", encoding="utf-8")
    return {"roster": roster, "courts": courts}

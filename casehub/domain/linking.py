"""Which source records belong to one case: references, party matches, coverage and operator corrections.

The rules work on source records (all versions of one agency row are one record; a record's references,
workers, employer, claims and time span are the union over its events) and are defined on pairs, so the
result is a function of the set of records and corrections, whatever order they arrived in:

1. Reference: two records that share a normalised case number are one case.
2. Party match: two records of the same worker (identity hash) and the same employer (credit code; the
   normalised name where a code is missing), with related claims, whose events lie within the window
   (default 180 days), are one case if they name the same workers.
3. Coverage: a record naming more workers than another that it party-matches covers it. A group dispute
   filed as one (an arbitration or court record naming several workers) is one case with every record it
   covers; so is any record covering exactly one case. A complaint or mediation record covering several
   cases (a complaint for 12 workers that the commission files as 12 applications) is attached to each of
   them instead of becoming a case.
4. Corrections: an operator's JOIN links two records; a SPLIT takes a record out of every automatic link.
   Of two corrections on one record the later one wins.

Links are transitive: a chain of matches (A with B within the window, B with C within the window) is one
case even if A and C lie further apart. A case's id derives from its anchor, the earliest event of its core
records (ties broken by event id), so every arrival order gives the same ids; an id that no longer names a
case redirects to the case that now holds its anchor. See docs/LINKING.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from casehub.domain.references import ref_key
from casehub.domain.rules import PartyMatch

RecordKey = tuple[str, str]  # (source system, record id)
FILING_AGENCIES = ("ARBITRATION", "COURT")  # where a group of workers files one case

_EMPLOYER_NOISE = str.maketrans({c: None for c in " \t　·.,，。()（）[]［］【】〔〕\"'“”‘’-—_"})


def employer_name_key(name: str | None) -> str | None:
    """An employer name in a comparable form (NFKC, no spaces, brackets or punctuation); None when empty."""
    if not name:
        return None
    text = unicodedata.normalize("NFKC", name).translate(_EMPLOYER_NOISE).upper()
    return text or None


@dataclass(frozen=True)
class Node:
    """What linking needs of one event: a summary, not the event."""

    event_id: str
    record: RecordKey
    agency: str
    event_type: str
    occurred_at: dt.datetime
    refs: frozenset[str] = frozenset()  # normalised case numbers that identify (casehub.domain.references.ref_key)
    workers: tuple[tuple[str, str], ...] = ()  # (identity hash, masked id) of every WORKER party
    employer_codes: frozenset[str] = frozenset()
    employer_names: frozenset[str] = frozenset()  # normalised (employer_name_key)
    employer_shown: str | None = None
    claims: frozenset[str] = frozenset()  # claim types; OTHER and unknown left out


def node_of(agency: str, event: dict) -> Node:
    """The linking summary of a decoded agency event."""
    refs = {key for ref in event.get("refs") or [] if (key := ref_key(ref))}
    workers, codes, names, employer_shown = {}, set(), set(), None
    for party in event.get("parties") or []:
        if party.get("role") == "WORKER" and party.get("id_hash"):
            workers[party["id_hash"]] = party.get("id_masked") or "(masked)"
        elif party.get("role") == "EMPLOYER":
            if party.get("credit_code"):
                codes.add(party["credit_code"])
            name = employer_name_key(party.get("name"))
            if name:
                names.add(name)
            employer_shown = employer_shown or party.get("credit_code") or party.get("name")
    claims = frozenset(c["type"] for c in event.get("claims") or [] if c.get("type") and c["type"] != "OTHER")
    source = event["source"]
    return Node(
        event["event_id"],
        (source["system"], source["record_id"]),
        agency,
        event["event_type"],
        event["occurred_at"],
        frozenset(refs),
        tuple(sorted(workers.items())),
        frozenset(codes),
        frozenset(names),
        employer_shown,
        claims,
    )


@dataclass(frozen=True)
class Correction:
    """An operator's link correction (cn.casehub.LinkCorrection), reduced to what linking needs."""

    correction_id: str
    action: str  # SPLIT | JOIN
    records: tuple[RecordKey, ...]
    issued_at: dt.datetime

    @property
    def order(self):
        return (self.issued_at, self.correction_id)


@dataclass
class Record:
    """All versions of one source row: the union of what its events say."""

    key: RecordKey
    events: list[Node] = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.events.append(node)
        self.events.sort(key=lambda n: (n.occurred_at, n.event_id))

    @property
    def first(self) -> Node:
        return self.events[0]

    @property
    def refs(self) -> set[str]:
        return {r for n in self.events for r in n.refs}

    @property
    def workers(self) -> dict[str, str]:
        return {h: m for n in self.events for h, m in n.workers}

    @property
    def codes(self) -> set[str]:
        return {c for n in self.events for c in n.employer_codes}

    @property
    def names(self) -> set[str]:
        return {c for n in self.events for c in n.employer_names}

    @property
    def claims(self) -> frozenset[str]:
        return frozenset(c for n in self.events for c in n.claims)

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime]:
        return self.events[0].occurred_at, self.events[-1].occurred_at


@dataclass(frozen=True)
class Link:
    """Why a record is in a case: the edge it was reached by (casehub's LinkReason, before rendering)."""

    rule: str  # EXPLICIT_REFERENCE | PARTY_MATCH | CORRECTION | PARTY_COVERAGE | ANCHOR
    other_event_id: str | None = None
    matched: tuple[str, ...] = ()
    window_days: int | None = None
    correction_id: str | None = None


@dataclass
class Case:
    """One case of a neighbourhood: its id, anchor, core and attached records, and the link of each record."""

    case_id: str
    anchor: Node
    core: list[RecordKey]
    attached: list[RecordKey] = field(default_factory=list)
    links: dict[RecordKey, Link] = field(default_factory=dict)


def case_id_for(anchor: Node) -> str:
    """The id of the case anchored at an event: a function of the event's source record only."""
    system, record_id = anchor.record
    return "CH" + hashlib.sha256(f"case|{system}|{record_id}".encode()).hexdigest()[:16].upper()


def _employer_match(a: Record, b: Record) -> str | None:
    """What identifies the two records' employer as one (a credit code, or a name where a code is missing)."""
    ca, cb = a.codes, b.codes
    if ca and cb:
        common = ca & cb
        return sorted(common)[0] if common else None
    common = a.names & b.names
    return sorted(common)[0] if common else None


def _within(a: Record, b: Record, days: int) -> bool:
    (a0, a1), (b0, b1) = a.span, b.span
    gap = max(a0, b0) - min(a1, b1)
    return gap <= dt.timedelta(days=days)


def party_match(a: Record, b: Record, rules: PartyMatch) -> tuple[str, ...] | None:
    """The masked values two records party-match on (workers and employer), or None."""
    shared = set(a.workers) & set(b.workers)
    if not shared:
        return None
    employer = _employer_match(a, b)
    if employer is None or not _within(a, b, rules.window_days) or not rules.related(a.claims, b.claims):
        return None
    masks = a.workers
    return tuple(sorted(masks[h] for h in shared)) + (employer,)


class LinkIndex:
    """Every record and correction seen, indexed by what can link them; `resolve` computes the cases of the
    neighbourhood of some records (everything that could be linked to them, transitively)."""

    def __init__(self, rules: PartyMatch):
        self.rules = rules
        self.records: dict[RecordKey, Record] = {}
        self.nodes: dict[str, Node] = {}
        self.by_ref: dict[str, set[RecordKey]] = defaultdict(set)
        self.by_worker: dict[str, set[RecordKey]] = defaultdict(set)
        self.corrections: dict[str, Correction] = {}
        self.by_correction: dict[RecordKey, set[str]] = defaultdict(set)

    # -- adding ---------------------------------------------------------------------------------------
    def add(self, node: Node) -> bool:
        """Add an event's summary; False if its event id is already known (a redelivery)."""
        if node.event_id in self.nodes:
            return False
        self.nodes[node.event_id] = node
        record = self.records.get(node.record)
        if record is None:
            record = self.records[node.record] = Record(node.record)
        record.add(node)
        for ref in node.refs:
            self.by_ref[ref].add(node.record)
        for worker, _ in node.workers:
            self.by_worker[worker].add(node.record)
        return True

    def correct(self, correction: Correction) -> bool:
        if correction.correction_id in self.corrections:
            return False
        self.corrections[correction.correction_id] = correction
        for key in correction.records:
            self.by_correction[key].add(correction.correction_id)
        return True

    # -- neighbourhoods ---------------------------------------------------------------------------------
    def _candidates(self, key: RecordKey) -> set[RecordKey]:
        record = self.records.get(key)
        out: set[RecordKey] = set()
        if record is not None:
            for ref in record.refs:
                out |= self.by_ref[ref]
            for worker in record.workers:
                out |= self.by_worker[worker]
        for cid in self.by_correction.get(key, ()):
            out |= set(self.corrections[cid].records)
        out.discard(key)
        return {k for k in out if k in self.records}

    def neighbourhood(self, keys) -> set[RecordKey]:
        """Every record that could be linked to `keys`, transitively (the rules need look no further)."""
        seen, todo = set(), [k for k in keys if k in self.records]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            todo.extend(self._candidates(key) - seen)
        return seen

    # -- the rules ------------------------------------------------------------------------------------
    def _split_at(self, key: RecordKey):
        orders = [
            self.corrections[c].order for c in self.by_correction.get(key, ()) if self.corrections[c].action == "SPLIT"
        ]
        return max(orders) if orders else None

    def _joins(self, keys: set[RecordKey]) -> list[Correction]:
        """JOIN corrections among `keys` that a later SPLIT of one of their records does not override."""
        out = []
        for cid in sorted({c for k in keys for c in self.by_correction.get(k, ())}):
            c = self.corrections[cid]
            if c.action != "JOIN" or len(c.records) < 2 or not all(k in keys for k in c.records):
                continue
            if all((s := self._split_at(k)) is None or c.order > s for k in c.records):
                out.append(c)
        return out

    def resolve(self, keys: set[RecordKey]) -> list[Case]:
        """The cases of a closed neighbourhood (`neighbourhood(...)`), sorted by case id."""
        keys = set(keys)
        records = {k: self.records[k] for k in keys}
        order = sorted(keys, key=lambda k: (records[k].first.occurred_at, records[k].first.event_id))
        split = {k for k in keys if self._split_at(k) is not None}
        parent = {k: k for k in keys}

        def find(k):
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        def union(a, b):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        edges: dict[RecordKey, list[tuple[int, RecordKey, Link]]] = defaultdict(list)  # strong edges, for reasons
        coverage: list[tuple[RecordKey, RecordKey, Link]] = []  # (covering, covered, how they matched)
        for c in self._joins(keys):
            first, *rest = c.records
            for other in rest:
                union(first, other)
                edges[first].append((0, other, Link("CORRECTION", correction_id=c.correction_id)))
                edges[other].append((0, first, Link("CORRECTION", correction_id=c.correction_id)))
        auto = [k for k in order if k not in split]
        by_ref = defaultdict(list)
        for k in auto:
            for ref in records[k].refs:
                by_ref[ref].append(k)
        for ref in sorted(by_ref):
            ks = by_ref[ref]
            for i, a in enumerate(ks):
                for b in ks[i + 1 :]:
                    wa, wb = set(records[a].workers), set(records[b].workers)
                    if wa and wb and wa != wb:
                        # a record naming more workers than another covers it, as for party matches (a complaint
                        # for 12 workers whose number each of 12 applications repeats); disjoint workers: no link
                        if wb < wa:
                            coverage.append((a, b, Link("EXPLICIT_REFERENCE", matched=(ref,))))
                        elif wa < wb:
                            coverage.append((b, a, Link("EXPLICIT_REFERENCE", matched=(ref,))))
                        elif wa & wb:
                            union(a, b)
                            edges[a].append((1, b, Link("EXPLICIT_REFERENCE", matched=(ref,))))
                            edges[b].append((1, a, Link("EXPLICIT_REFERENCE", matched=(ref,))))
                        continue
                    union(a, b)
                    edges[a].append((1, b, Link("EXPLICIT_REFERENCE", matched=(ref,))))
                    edges[b].append((1, a, Link("EXPLICIT_REFERENCE", matched=(ref,))))
        by_worker = defaultdict(list)
        for k in auto:
            for w in records[k].workers:
                by_worker[w].append(k)
        pairs = sorted({(a, b) for ks in by_worker.values() for a in ks for b in ks if a < b})
        for a, b in pairs:
            matched = party_match(records[a], records[b], self.rules)
            if matched is None:
                continue
            wa, wb = set(records[a].workers), set(records[b].workers)
            link = Link("PARTY_MATCH", matched=matched, window_days=self.rules.window_days)
            if wa == wb:
                union(a, b)
                edges[a].append((2, b, link))
                edges[b].append((2, a, link))
            elif wb < wa:
                coverage.append((a, b, link))
            elif wa < wb:
                coverage.append((b, a, link))
        # Coverage between the groups the strong links made: one covered group joins, several attach.
        groups: dict[RecordKey, set[RecordKey]] = defaultdict(set)
        for k in keys:
            groups[find(k)].add(k)
        covers: dict[RecordKey, set[RecordKey]] = defaultdict(set)
        cover_links: dict[tuple[RecordKey, RecordKey], tuple[RecordKey, RecordKey, Link]] = {}
        for big, small, link in sorted(coverage, key=lambda c: (c[2].rule != "EXPLICIT_REFERENCE", c[0], c[1])):
            g_big, g_small = find(big), find(small)
            if g_big != g_small:
                covers[g_big].add(g_small)
                cover_links.setdefault((g_big, g_small), (big, small, link))
        # A group filed as one (an arbitration or court record naming several workers) is one case with every
        # record it covers; a complaint or mediation naming several workers covering several cases is shown
        # in each of them instead.
        filing = {
            g
            for g, members in groups.items()
            if any(records[k].first.agency in FILING_AGENCIES and len(records[k].workers) > 1 for k in members)
        }
        absorbed = {g for g, covered in covers.items() if len(covered) >= 2 and g not in filing}
        for g in sorted(covers):
            if g in absorbed:
                continue
            for small in sorted(covers[g]):
                big_rec, small_rec, link = cover_links[(g, small)]
                union(g, small)
                prio = 1 if link.rule == "EXPLICIT_REFERENCE" else 2
                edges[big_rec].append((prio, small_rec, link))
                edges[small_rec].append((prio, big_rec, link))
        cores: dict[RecordKey, set[RecordKey]] = defaultdict(set)
        for g, members in groups.items():
            if g not in absorbed:
                cores[find(g)] |= members

        cases: dict[RecordKey, Case] = {}
        for root, members in cores.items():
            anchor = min((n for k in members for n in records[k].events), key=lambda n: (n.occurred_at, n.event_id))
            case = Case(case_id_for(anchor), anchor, sorted(members, key=lambda k: (records[k].first.occurred_at, k)))
            case.links = _spanning(anchor, members, edges, records)
            cases[root] = case
        for g in sorted(absorbed):
            for target, (small_rec, link) in sorted(_attachments(g, covers, absorbed, cover_links, find).items()):
                case = cases[target]
                for k in sorted(groups[g]):
                    if k not in case.attached:
                        case.attached.append(k)
                        case.links[k] = Link(
                            "PARTY_COVERAGE", records[small_rec].first.event_id, link.matched, link.window_days
                        )
        return sorted(cases.values(), key=lambda c: c.case_id)


def _attachments(g, covers, absorbed, cover_links, find, seen=()) -> dict:
    """Where an absorbed group's records are shown: core root -> (the covered record, the matched values).
    A group covering groups that are absorbed themselves reaches their cases (coverage only narrows)."""
    out = {}
    for small in sorted(covers[g]):
        if small in absorbed:
            if small not in seen:
                for target, how in _attachments(small, covers, absorbed, cover_links, find, (*seen, g)).items():
                    out.setdefault(target, how)
        else:
            _, small_rec, link = cover_links[(g, small)]
            out.setdefault(find(small), (small_rec, link))
    return out


def _spanning(anchor: Node, members: set[RecordKey], edges, records) -> dict[RecordKey, Link]:
    """A reason per record: the edge it was first reached by, walking out from the anchor's record
    (corrections before references before party matches; then earliest first)."""
    start = anchor.record
    links = {start: Link("ANCHOR")}
    frontier = [start]
    while frontier:
        nxt = []
        for key in frontier:
            for _prio, other, link in sorted(
                edges.get(key, ()), key=lambda e: (e[0], records[e[1]].first.occurred_at, e[1])
            ):
                if other in members and other not in links:
                    links[other] = Link(
                        link.rule, records[key].first.event_id, link.matched, link.window_days, link.correction_id
                    )
                    nxt.append(other)
        frontier = sorted(nxt, key=lambda k: (records[k].first.occurred_at, k))
    for key in members:  # not reachable over strong edges: cannot happen for a core, kept for safety
        links.setdefault(key, Link("ANCHOR"))
    return links


def render_links(case: Case, records: dict[RecordKey, Record]) -> dict[str, dict]:
    """The LinkReason (cn.casehub.LinkReason) of every event of a case: the record's link for its first event,
    SAME_SOURCE_RECORD for its other versions. Deterministic: linked_at is the later of the two events' times."""
    out: dict[str, dict] = {}
    times = {n.event_id: n.occurred_at for k in (*case.core, *case.attached) for n in records[k].events}
    for key in (*case.core, *case.attached):
        link, events = case.links[key], records[key].events
        first = events[0]
        if link.rule == "ANCHOR":
            rule, detail = "OTHER", "the case's earliest event: its id derives from this record"
        elif link.rule == "EXPLICIT_REFERENCE":
            rule, detail = link.rule, f"case number {', '.join(link.matched)} is also on event {link.other_event_id}"
        elif link.rule == "PARTY_MATCH":
            *workers, employer = link.matched
            rule, detail = (
                link.rule,
                (
                    f"worker {', '.join(workers)} and employer {employer} are also on event {link.other_event_id}: "
                    f"related claims within {link.window_days} days"
                ),
            )
        elif link.rule == "CORRECTION":
            rule, detail = link.rule, f"operator correction {link.correction_id} joined it"
        elif link.window_days is None:  # covering by a case number
            rule, detail = (
                link.rule,
                (
                    f"names case number {', '.join(link.matched)} with this case's workers among others "
                    f"(event {link.other_event_id}); shown in each case it covers"
                ),
            )
        else:
            *workers, employer = link.matched
            rule, detail = (
                link.rule,
                (
                    f"covers worker {', '.join(workers)} of this case (employer {employer}, event "
                    f"{link.other_event_id}); shown in each case it covers"
                ),
            )
        linked_at = max(first.occurred_at, times.get(link.other_event_id, first.occurred_at))
        out[first.event_id] = {
            "event_id": first.event_id,
            "rule": rule,
            "detail": detail,
            "linked_at": linked_at,
            "matched": list(link.matched),
            "window_days": link.window_days,
            "other_event_id": link.other_event_id,
            "correction_id": link.correction_id,
        }
        for n in events[1:]:
            out[n.event_id] = {
                "event_id": n.event_id,
                "rule": "SAME_SOURCE_RECORD",
                "detail": f"another version of record {key[0]} {key[1]}",
                "linked_at": max(n.occurred_at, first.occurred_at),
                "matched": [],
                "window_days": None,
                "other_event_id": first.event_id,
                "correction_id": None,
            }
    return out

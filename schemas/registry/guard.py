"""casehub's own subjects in a registry: which they are, which changes to them are refused, and the conflicts a
registry's state can hold with them (reported, and repaired by `casehub schemas repair`).

A conflict is a contract subject whose registered versions no longer let the hub register its schema (someone deleted
the subject and registered an incompatible schema under it, say) or whose latest version the contract's schema cannot
read or be read by. The hub cannot publish that topic until it is repaired; the registry keeps serving.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from casehub.schemas.registry.state import RegistryError, RegistryState, Version, mutual_problems, normalise

REPAIR = "casehub schemas repair"


@dataclass(frozen=True)
class ContractSubject:
    subject: str
    record: str  # cn.casehub.CaseRecord
    schema: str  # normalised, as the hub's codec registers it
    release: int | None  # schemas/released/<record>/v<N>.avsc equal to this schema, None if not released yet


@dataclass(frozen=True)
class Conflict:
    """One contract subject the hub cannot use, with both sides named."""

    subject: str
    record: str
    contract_release: int | None
    contract_id: int | None  # id the contract's schema has in this registry (None: never registered here)
    contract_version: int | None  # the subject's version holding the contract's schema (it may be deleted)
    contract_version_deleted: bool
    registered_version: int
    registered_id: int
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        mine = f"{self.record} (release v{self.contract_release})" if self.contract_release else self.record
        held = (
            f"; the contract's schema was version {self.contract_version}"
            f"{' (deleted)' if self.contract_version_deleted else ''}, id {self.contract_id}"
            if self.contract_version
            else ""
        )
        return (
            f"subject {self.subject}: registered version {self.registered_version} (id {self.registered_id}) conflicts "
            f"with the contract's {mine}{held}: {self.reason}. Repair: `{REPAIR}`"
        )


class ContractGuard:
    """The contract's subjects (subject -> ContractSubject) and the rules protecting them.

    Args:
        allow_changes: CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES; True lets writers delete contract subjects and
            register schemas incompatible with the contract (for an operator who knows why).
    """

    def __init__(self, subjects: dict[str, ContractSubject], allow_changes: bool = False):
        self.subjects, self.allow_changes = subjects, allow_changes

    @classmethod
    def for_contract(cls, contract, prefix: str = "", allow_changes: bool = False) -> ContractGuard:
        """The guard of casehub's contract under a topic prefix (the subjects `casehub up` registers)."""
        from casehub.schemas.codec import subject_for
        from casehub.schemas.contract import TOPIC_RECORDS
        from casehub.schemas.evolution import released

        subjects = {}
        for base, record in TOPIC_RECORDS.items():
            expanded = contract.expanded(record)
            text = normalise(json.dumps(expanded, ensure_ascii=False, separators=(",", ":")))
            canonical = json.dumps(expanded, sort_keys=True)
            release = next((v for v, s in released(record) if json.dumps(s, sort_keys=True) == canonical), None)
            subject = subject_for(prefix + base)
            subjects[subject] = ContractSubject(subject, record, text, release)
        return cls(subjects, allow_changes)

    def __contains__(self, subject: str) -> bool:
        return subject in self.subjects

    # -- rules on writes ----------------------------------------------------------------------
    def check_register(self, subject: str, norm: str) -> None:
        """Refuse a schema in a contract subject that the contract's schema cannot read or be read by.

        Raises:
            RegistryError: 409, naming the record and the fields, and the setting that allows it.
        """
        mine = self.subjects.get(subject)
        if mine is None or self.allow_changes or norm == mine.schema:
            return
        problems = mutual_problems(mine.schema, norm)
        if problems:
            raise RegistryError(
                409,
                409,
                f"subject {subject} carries casehub's {mine.record}; the hub could no longer read or write it with "
                f"this schema: {'; '.join(map(str, problems[:5]))}. A schema incompatible with the contract is "
                "refused unless the registry runs with CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES=true",
            )

    def check_delete(self, subject: str) -> None:
        """Refuse deleting a contract subject or one of its versions.

        Raises:
            RegistryError: 422 / 42205 (operation not permitted), naming the setting that allows it.
        """
        mine = self.subjects.get(subject)
        if mine is not None and not self.allow_changes:
            raise RegistryError(
                422,
                42205,
                f"subject {subject} carries casehub's {mine.record} and cannot be deleted: the hub needs it to "
                "publish and read that topic. Deleting it needs CASEHUB_REGISTRY_ALLOW_CONTRACT_CHANGES=true on the "
                f"registry; to undo a bad version, use `{REPAIR}`",
            )

    # -- conflicts ----------------------------------------------------------------------------
    def conflicts(self, state: RegistryState) -> list[Conflict]:
        """Every contract subject the hub cannot use as the state stands (empty: all is well)."""
        return [c for c in (self.conflict(state, s) for s in self.subjects) if c is not None]

    def conflict(self, state: RegistryState, subject: str) -> Conflict | None:
        mine = self.subjects[subject]
        live = state.live(subject)
        if not live:
            return None  # nothing registered: the contract's schema registers as a new version
        latest = live[-1]
        if state.find(subject, mine.schema) is None:
            problems = state.problems(subject, mine.schema)
            if not problems:
                return None  # registrable: the registry registers it at start
            reason = f"the contract's schema cannot be registered ({state.level(subject)}): " + "; ".join(
                map(str, problems[:5])
            )
        elif latest.schema != mine.schema and mutual_problems(mine.schema, latest.schema):
            reason = "the latest version and the contract's schema cannot read each other's data: " + "; ".join(
                map(str, mutual_problems(mine.schema, latest.schema)[:5])
            )
        else:
            return None
        held = _holding(state, subject, mine.schema)
        return Conflict(
            subject,
            mine.record,
            mine.release,
            state.ids_by_schema.get(mine.schema),
            held.version if held else None,
            bool(held and held.deleted),
            latest.version,
            latest.id,
            reason,
        )

    def repair_plan(self, state: RegistryState, subject: str) -> list[Version]:
        """The live versions of `subject` to delete so the contract's schema is registrable and latest again:
        those the contract's schema cannot read or be read by."""
        mine = self.subjects[subject]
        return [v for v in state.live(subject) if v.schema != mine.schema and mutual_problems(mine.schema, v.schema)]


def _holding(state: RegistryState, subject: str, norm: str) -> Version | None:
    """The newest version of `subject` (live or deleted) holding schema `norm`."""
    found = [v for v in state.subjects.get(subject, []) if v.schema == norm]
    return found[-1] if found else None

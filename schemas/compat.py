"""Avro schema-resolution compatibility: can a reader schema read data written with a writer schema?

Pure functions over schema JSON (dicts, lists, strings), following the resolution rules of the Avro
specification. Each problem names the field path, so a failing check says exactly what broke.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
# writer type -> reader types that can read it (Avro promotion rules)
PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


@dataclass(frozen=True)
class Incompatibility:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _names(schema, namespace: str | None, table: dict) -> None:
    """Collect named types (records, enums, fixed) by full name so string references resolve."""
    if isinstance(schema, list):
        for s in schema:
            _names(s, namespace, table)
    elif isinstance(schema, dict):
        t = schema.get("type")
        if t in ("record", "error", "enum", "fixed"):
            full = _fullname(schema, namespace)
            table.setdefault(full, schema)
            ns = full.rpartition(".")[0] or None
            for f in schema.get("fields", []):
                _names(f["type"], ns, table)
        elif t == "array":
            _names(schema["items"], namespace, table)
        elif t == "map":
            _names(schema["values"], namespace, table)
        elif isinstance(t, (dict, list)):
            _names(t, namespace, table)


def _fullname(schema: dict, namespace: str | None) -> str:
    name = schema["name"]
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


def _resolve(schema, table: dict, namespace: str | None):
    if isinstance(schema, str) and schema not in PRIMITIVES:
        key = schema if "." in schema or not namespace else f"{namespace}.{schema}"
        return table.get(key) or table.get(schema) or schema
    if isinstance(schema, dict) and schema.get("type") in PRIMITIVES and "logicalType" in schema:
        return schema["type"]  # logical types resolve through their underlying type
    if isinstance(schema, dict) and isinstance(schema.get("type"), str) and schema["type"] in PRIMITIVES:
        return schema["type"]
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
        return schema["type"]
    return schema


def _kind(schema) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return schema.get("type")


def check_compatibility(reader, writer) -> list[Incompatibility]:
    """Problems that stop `reader` from reading data written with `writer` (empty list: compatible)."""
    rtable: dict = {}
    wtable: dict = {}
    _names(reader, None, rtable)
    _names(writer, None, wtable)
    problems: list[Incompatibility] = []
    _check(reader, writer, rtable, wtable, None, None, "", problems, set())
    return problems


def _check(reader, writer, rtable, wtable, rns, wns, path, out, seen) -> None:
    r = _resolve(reader, rtable, rns)
    w = _resolve(writer, wtable, wns)
    rk, wk = _kind(r), _kind(w)
    here = path or "<root>"

    if wk == "union":
        # every branch the writer may have used must be readable
        for branch in w:
            sub: list[Incompatibility] = []
            _check(r, branch, rtable, wtable, rns, wns, path, sub, seen)
            out.extend(sub)
        return
    if rk == "union":
        for branch in r:
            sub = []
            _check(branch, w, rtable, wtable, rns, wns, path, sub, seen)
            if not sub:
                return
        out.append(
            Incompatibility(
                here,
                f"writer type {_label(w)} matches no branch of the reader union "
                f"{[_label(_resolve(b, rtable, rns)) for b in r]}",
            )
        )
        return

    if wk in PRIMITIVES:
        if rk not in PROMOTIONS.get(wk, {wk}):
            out.append(Incompatibility(here, f"type changed from {wk} to {_label(r)}, which cannot read it"))
        return
    if wk != rk:
        out.append(Incompatibility(here, f"type changed from {wk} {_label(w)} to {rk} {_label(r)}"))
        return

    if wk in ("record", "error"):
        rname, wname = _fullname(r, rns), _fullname(w, wns)
        if (
            _short(rname) != _short(wname)
            and wname not in r.get("aliases", [])
            and _short(wname) not in r.get("aliases", [])
        ):
            out.append(Incompatibility(here, f"record name changed from {wname} to {rname} without an alias"))
            return
        key = (rname, wname)
        if key in seen:
            return
        seen = seen | {key}
        r_ns = rname.rpartition(".")[0] or None
        w_ns = wname.rpartition(".")[0] or None
        wfields = {f["name"]: f for f in w.get("fields", [])}
        for f in r.get("fields", []):
            fpath = f"{path}.{f['name']}" if path else f["name"]
            wf = wfields.get(f["name"])
            if wf is None:
                for alias in f.get("aliases", []):
                    wf = wfields.get(alias)
                    if wf:
                        break
            if wf is None:
                if "default" not in f:
                    out.append(
                        Incompatibility(
                            fpath,
                            "field added without a default: data written before it cannot be read (give it a default)",
                        )
                    )
                continue
            _check(f["type"], wf["type"], rtable, wtable, r_ns, w_ns, fpath, out, seen)
        return
    if wk == "enum":
        missing = [s for s in w.get("symbols", []) if s not in r.get("symbols", [])]
        if missing and "default" not in r:
            out.append(
                Incompatibility(here, f"enum {_fullname(r, rns)} lost symbols {missing} and has no default symbol")
            )
        return
    if wk == "array":
        _check(r["items"], w["items"], rtable, wtable, rns, wns, f"{path}[]", out, seen)
        return
    if wk == "map":
        _check(r["values"], w["values"], rtable, wtable, rns, wns, f"{path}{{}}", out, seen)
        return
    if wk == "fixed":
        if r.get("size") != w.get("size"):
            out.append(Incompatibility(here, f"fixed size changed from {w.get('size')} to {r.get('size')}"))
        return
    out.append(Incompatibility(here, f"unsupported schema kind {wk}"))


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _label(schema) -> str:
    if isinstance(schema, dict):
        return schema.get("name") or schema.get("type", "?")
    if isinstance(schema, list):
        return "union"
    return str(schema)


COMPATIBILITY_LEVELS = {
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
}


def check_level(level: str, new, previous: list) -> list[Incompatibility]:
    """Check `new` against earlier versions (oldest first) under a Confluent compatibility level."""
    if level == "NONE" or not previous:
        return []
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    problems: list[Incompatibility] = []
    for old in against:
        if level.startswith(("BACKWARD", "FULL")):
            problems += check_compatibility(new, old)
        if level.startswith(("FORWARD", "FULL")):
            problems += [Incompatibility(p.path, f"(forward) {p.message}") for p in check_compatibility(old, new)]
    return problems

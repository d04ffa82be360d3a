"""Avro binary writers compiled from a parsed schema: one closure per schema node, decided once.

fastavro's `schemaless_writer` re-derives how to write every value on every call (it validates each
union branch in turn and walks the schema by type name); for the connector's hot path that was the
largest single cost after mapping. `compile_writer(schema)` does that work once and returns
`write(value) -> bytes` producing exactly the bytes fastavro writes (tests compare them for every record
type of the contract).

The compiled writer only handles what it can write unambiguously. Anything else (an unexpected Python
type, a naive datetime, a union whose branch it cannot pick by type, a value out of range) raises
`Unhandled`, and the caller falls back to fastavro, which then either writes the value or raises its
usual error. So the fast path can only be faster, never more permissive.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAYS_SHIFT = dt.date(1970, 1, 1).toordinal()
_INT_RANGE = (-(1 << 31), (1 << 31) - 1)
_LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
# zig-zag varints of small numbers, precomputed: lengths, counts and enum indexes are almost always small
_SMALL = [bytes([(n << 1) & 0x7F | 0x80, n >> 6]) if n >= 64 else bytes([n << 1]) for n in range(8192)]

# the same, each after a union's branch index 1 (the usual non-null branch of ["null", X])
_SMALL2 = [b"\x02" + b for b in _SMALL]

Writer = Callable[[Any, bytearray], None]


class Unhandled(Exception):
    """The compiled writer will not write this value; fastavro decides (writes it or raises)."""


def _varint(n: int, out: bytearray) -> None:
    n = (n << 1) ^ (n >> 63)
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write_long(lo: int, hi: int) -> Writer:
    def write(v, out):
        if type(v) is not int or not lo <= v <= hi:
            raise Unhandled
        if 0 <= v < 8192:
            out += _SMALL[v]
        else:
            _varint(v, out)

    return write


def _write_string(v, out):
    if type(v) is not str:
        raise Unhandled
    _write_bytes(v.encode(), out)


def _write_bytes(v, out):
    if type(v) is not bytes:
        raise Unhandled
    n = len(v)
    if n < 8192:
        out += _SMALL[n]
    else:
        _varint(n, out)
    out += v


def _write_boolean(v, out):
    if v is True:
        out.append(1)
    elif v is False:
        out.append(0)
    else:
        raise Unhandled


def _write_null(v, out):
    if v is not None:
        raise Unhandled


def _timestamp_millis(v, out):
    if type(v) is dt.datetime:
        if v.tzinfo is None:
            raise Unhandled  # fastavro reads naive times as local time: let it
        d = v - _EPOCH
        v = (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000
    elif type(v) is not int:
        raise Unhandled
    _varint(v, out)


def _date(v, out):
    if type(v) is dt.date:
        v = v.toordinal() - _DAYS_SHIFT
    elif type(v) is not int:
        raise Unhandled
    if 0 <= v < 8192:
        out += _SMALL[v]
    else:
        _varint(v, out)


# how a union picks its branch by the value's Python type alone (None: the branch needs a closer look)
_BRANCH_TYPES = {
    "null": (type(None),),
    "boolean": (bool,),
    "int": (int,),
    "long": (int,),
    "string": (str,),
    "bytes": (bytes,),
    "record": (dict,),
    "map": (dict,),
    "array": (list, tuple),
    "enum": (str,),
    "float": (float,),
    "double": (float,),
}


def compile_writer(schema) -> Callable[..., bytes]:
    """`write(value, prefix=b"") -> prefix + bytes` for a schema parsed by fastavro.parse_schema; raises
    Unhandled (see module doc). The prefix (e.g. Confluent's framing header) saves the caller a copy."""
    named: dict[str, Any] = {}
    _compile(schema, named)  # closures for every node (and every named type, in definition order)
    write = _Generator(named).writer(schema)

    def encode(value, prefix: bytes = b"") -> bytes:
        out = bytearray(prefix)
        try:
            write(value, out)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            raise Unhandled from None
        return bytes(out)

    return encode


class _Generator:
    """Python source for each record type with its fields' writes inlined (no call per field), then exec'd.

    Each top-level record becomes one function with its nested records written inline (a recursive type
    calls its own function); strings, numbers, booleans, enums and nullable forms of them are written
    inline; anything rarer (general unions, maps of complex values) calls the closure `_compile` built.
    """

    def __init__(self, named: dict):
        self.named = named
        self.ns: dict[str, Any] = {
            "Unhandled": Unhandled,
            "SMALL": _SMALL,
            "SMALL2": _SMALL2,
            "varint": _varint,
            "ts_millis": _timestamp_millis,
            "date_days": _date,
            "dt": dt,
            "EPOCH": _EPOCH,
        }
        self.functions: dict[str, str] = {}  # record name -> function name
        self.inlining: list[str] = []  # records being written inline: one met again (recursion) is called instead
        self.counter = 0

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def writer(self, schema) -> Writer:
        if isinstance(schema, dict) and schema.get("type") == "record":
            return self.ns[self.record(schema)]
        fn = self._name("w")
        lines = [f"def {fn}(v, out):"]
        self.emit(schema, "v", "    ", lines)
        exec("\n".join(lines), self.ns)
        return self.ns[fn]

    def record(self, schema: dict) -> str:
        name = schema["name"]
        if name in self.functions:
            return self.functions[name]
        fn = self.functions[name] = self._name("record_")
        lines = [f"def {fn}(v, out):  # {name}", "    if type(v) is not dict:", "        raise Unhandled"]
        self.inlining.append(name)
        self.fields(schema, "v", "    ", lines)
        self.inlining.pop()
        exec("\n".join(lines), self.ns)
        return fn

    def fields(self, schema: dict, var: str, ind: str, lines: list[str]) -> None:
        """The writes of a record's fields, in order (the caller has checked that the value is a dict)."""
        for f in schema["fields"]:
            x = self._name("x")
            optional = "default" in f or (isinstance(f["type"], list) and "null" in f["type"])
            if optional:
                const = self._name("default")
                self.ns[const] = f.get("default")
                lines.append(f"{ind}{x} = {var}.get({f['name']!r}, {const})")
            else:
                lines.append(f"{ind}{x} = {var}[{f['name']!r}]")
            self.emit(f["type"], x, ind, lines)

    def emit(self, schema, var: str, ind: str, lines: list[str]) -> None:
        """Append the statements writing `var` (of type `schema`) to `out`."""
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]["schema"]
        if isinstance(schema, list):
            if len(schema) == 2 and schema[0] == "null":
                lines += [f"{ind}if {var} is None:", f"{ind}    out.append(0)", f"{ind}else:"]
                if schema[1] == "string":  # the branch index and the length in one precomputed piece
                    # fastavro picks the branch by isinstance(str): other objects with .encode() are its to refuse
                    b = self._name("b")
                    lines += [
                        f"{ind}    if not isinstance({var}, str):",
                        f"{ind}        raise Unhandled",
                        f"{ind}    {b} = {var}.encode()",
                        f"{ind}    out += SMALL2[len({b})]",
                        f"{ind}    out += {b}",
                    ]
                else:
                    lines.append(f"{ind}    out.append(2)")
                    self.emit(schema[1], var, ind + "    ", lines)
            else:
                fn = self._name("union")
                self.ns[fn] = _compile(schema, self.named)
                lines.append(f"{ind}{fn}({var}, out)")
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = None if isinstance(schema, str) else schema.get("logicalType")
        if kind == "long" and logical == "timestamp-millis":
            # inline for aware datetimes of 1970-2039 (six varint bytes); anything else through ts_millis
            d, m = self._name("d"), self._name("m")
            lines += [
                f"{ind}if type({var}) is dt.datetime and {var}.tzinfo is not None:",
                f"{ind}    {d} = {var} - EPOCH",
                f"{ind}    {m} = (({d}.days * 86400 + {d}.seconds) * 1000 + {d}.microseconds // 1000) << 1",
                f"{ind}    if 0x800000000 <= {m} < 0x40000000000:",
                f"{ind}        out += bytes(({m} & 127 | 128, {m} >> 7 & 127 | 128, {m} >> 14 & 127 | 128, {m} >> 21 "
                f"& 127 | 128, {m} >> 28 & 127 | 128, {m} >> 35))",
                f"{ind}    else:",
                f"{ind}        ts_millis({var}, out)",
                f"{ind}else:",
                f"{ind}    ts_millis({var}, out)",
            ]
        elif kind == "int" and logical == "date":
            lines.append(f"{ind}date_days({var}, out)")
        elif kind == "record":
            if schema["name"] in self.inlining:
                lines.append(f"{ind}{self.record(schema)}({var}, out)")
            else:
                # only a real dict: a defaultdict or Counter would invent missing fields that fastavro refuses
                lines += [f"{ind}if type({var}) is not dict:", f"{ind}    raise Unhandled"]
                self.inlining.append(schema["name"])
                self.fields(schema, var, ind, lines)
                self.inlining.pop()
        elif kind == "enum":
            table = self._name("symbols")
            self.ns[table] = {s: _SMALL[i] for i, s in enumerate(schema["symbols"])}
            lines.append(f"{ind}out += {table}[{var}]")
        elif kind == "string":
            # Only str has .encode() giving UTF-8 (bytes and numbers raise AttributeError, hence Unhandled);
            # a string of 8192 bytes or more raises IndexError here and is left to fastavro.
            b = self._name("b")
            lines += [f"{ind}{b} = {var}.encode()", f"{ind}out += SMALL[len({b})]", f"{ind}out += {b}"]
        elif kind == "boolean":
            lines += [
                f"{ind}if {var} is True:",
                f"{ind}    out.append(1)",
                f"{ind}elif {var} is False:",
                f"{ind}    out.append(0)",
                f"{ind}else:",
                f"{ind}    raise Unhandled",
            ]
        elif kind in ("int", "long") and logical is None:
            lo, hi = _INT_RANGE if kind == "int" else _LONG_RANGE
            lines += [
                f"{ind}if type({var}) is not int or not {lo} <= {var} <= {hi}:",
                f"{ind}    raise Unhandled",
                f"{ind}if 0 <= {var} < 8192:",
                f"{ind}    out += SMALL[{var}]",
                f"{ind}else:",
                f"{ind}    varint({var}, out)",
            ]
        elif kind == "null":
            lines += [f"{ind}if {var} is not None:", f"{ind}    raise Unhandled"]
        elif kind == "array":
            item = self._name("item")
            lines += [
                f"{ind}if type({var}) is not list and type({var}) is not tuple:",
                f"{ind}    raise Unhandled",
                f"{ind}if {var}:",
                f"{ind}    out += SMALL[len({var})] if len({var}) < 8192 else varint_bytes(len({var}))",
                f"{ind}    for {item} in {var}:",
            ]
            self.ns["varint_bytes"] = _long_bytes
            self.emit(schema["items"], item, ind + "        ", lines)
            lines.append(f"{ind}out.append(0)")
        else:  # bytes, float, double, map, logical types we do not inline: the closure writer
            fn = self._name("node")
            self.ns[fn] = _compile(schema, self.named)
            lines.append(f"{ind}{fn}({var}, out)")


def _type_of(schema, named) -> str:
    if isinstance(schema, str):
        return _type_of(named[schema]["schema"], named) if schema in named else schema
    if isinstance(schema, list):
        return "union"
    return schema["type"]


def _compile(schema, named: dict) -> Writer:
    if isinstance(schema, str):
        if schema in named:
            node = named[schema]
            return lambda v, out: node["write"](v, out)  # late-bound: recursive types
        return _PRIMITIVES[schema]
    if isinstance(schema, list):
        return _union(schema, named)
    kind, logical = schema["type"], schema.get("logicalType")
    if kind == "long" and logical == "timestamp-millis":
        return _timestamp_millis
    if kind == "int" and logical == "date":
        return _date
    if logical is not None and kind in _PRIMITIVES:
        raise NotImplementedError(f"logical type {logical} on {kind}")
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "enum":
        node = named[schema["name"]] = {"schema": schema}
        index = {s: _SMALL[i] for i, s in enumerate(schema["symbols"])}

        def enum(v, out):
            try:
                out += index[v]
            except (KeyError, TypeError):
                raise Unhandled from None

        node["write"] = enum
        return enum
    if kind == "record":
        node = named[schema["name"]] = {"schema": schema}
        fields = []
        for f in schema["fields"]:
            has_default = "default" in f
            optional = has_default or (isinstance(f["type"], list) and "null" in f["type"])
            fields.append((f["name"], _compile(f["type"], named), optional, f.get("default")))
        fields = tuple(fields)

        def record(v, out):
            if type(v) is not dict:
                raise Unhandled
            for name, w, optional, default in fields:
                try:
                    x = v[name]
                except KeyError:
                    if not optional:
                        raise Unhandled from None
                    x = default
                w(x, out)

        node["write"] = record
        return record
    if kind == "array":
        item = _compile(schema["items"], named)

        def array(v, out):
            if type(v) is not list and type(v) is not tuple:
                raise Unhandled
            if v:
                n = len(v)
                out += _SMALL[n] if n < 8192 else _long_bytes(n)
                for x in v:
                    item(x, out)
            out.append(0)

        return array
    if kind == "map":
        value = _compile(schema["values"], named)

        def map_(v, out):
            if type(v) is not dict:
                raise Unhandled
            if v:
                n = len(v)
                out += _SMALL[n] if n < 8192 else _long_bytes(n)
                for k, x in v.items():
                    _write_string(k, out)
                    value(x, out)
            out.append(0)

        return map_
    raise NotImplementedError(f"Avro type {kind}")


def _long_bytes(n: int) -> bytes:
    out = bytearray()
    _varint(n, out)
    return bytes(out)


def _union(branches: list, named: dict) -> Writer:
    writers = [_compile(b, named) for b in branches]
    kinds = [_type_of(b, named) for b in branches]
    logical = [
        b.get("logicalType") if isinstance(b, dict) else (named[b]["schema"].get("logicalType") if b in named else None)
        for b in branches
    ]
    # a branch is picked by type only when no other branch accepts the same Python type
    picks: dict[type, int] = {}
    ambiguous: set[type] = set()
    for i, kind in enumerate(kinds):
        types = _BRANCH_TYPES.get(kind, ())
        if logical[i] == "timestamp-millis":
            types = (*types, dt.datetime)
        elif logical[i] == "date":
            types = (*types, dt.date)
        for t in types:
            if t in picks:
                ambiguous.add(t)
            picks[t] = i
    for t in ambiguous:
        picks.pop(t)
    table = {t: (_SMALL[i], writers[i]) for t, i in picks.items()}
    if len(branches) == 2 and kinds[0] == "null" and type(None) in table:
        tag, other = _SMALL[1], writers[1]

        def nullable(v, out):
            if v is None:
                out.append(0)
            else:
                out += tag
                other(v, out)

        return nullable

    # records named in the union: fastavro's tuple notation (name, value) picks a branch by name
    names = {}
    for i, b in enumerate(branches):
        node = named.get(b)["schema"] if isinstance(b, str) and b in named else b
        if isinstance(node, dict) and node.get("type") == "record":
            full = node["name"] if "." in node["name"] else f"{node.get('namespace', '')}.{node['name']}".lstrip(".")
            names[full] = names[full.rpartition(".")[2]] = (_SMALL[i], writers[i])

    def union(v, out):
        if names and type(v) is tuple and len(v) == 2 and v[0] in names:
            tag, w = names[v[0]]
            out += tag
            w(v[1], out)
            return
        try:
            tag, w = table[type(v)]
        except KeyError:
            raise Unhandled from None
        out += tag
        w(v, out)

    return union


def _write_packed(fmt: str) -> Writer:
    pack = struct.Struct(fmt).pack

    def write(v, out):
        if type(v) is not float:
            raise Unhandled
        out += pack(v)

    return write


_PRIMITIVES: dict[str, Writer] = {
    "null": _write_null,
    "boolean": _write_boolean,
    "int": _write_long(*_INT_RANGE),
    "long": _write_long(*_LONG_RANGE),
    "string": _write_string,
    "bytes": _write_bytes,
    "float": _write_packed("<f"),
    "double": _write_packed("<d"),
}

"""Decoding the samskap result format (schema 1, docs/results.md).

A result travels as one msgpack map.  Numeric columns, integer ids and the
period axis are ``bin`` frames of little-endian values; they are copied out
into :class:`array.array` objects (``array('d')`` for f64, ``array('q')`` for
i64, a 4-byte signed array for i32), never viewed in place, since a bin inside
a msgpack buffer has no alignment.  Every size is checked against the data
the way bus/sk_result_mp.c checks it, so malformed bytes raise
:class:`~samskap.errors.ResultError` with a message saying what is wrong.
"""

import sys
from array import array

import msgpack

from .errors import ResultError

SCHEMA = 1

# Largest result accepted (the bus carries at most 64 MiB per frame by default;
# a broker can raise --max-frame, so allow up to its range's top).
MAX_RESULT_BYTES = 2 << 30


def _typecode(size, signed=True):
    for code in ("b", "h", "i", "l", "q") if signed else ("B", "H", "I", "L", "Q"):
        if array(code).itemsize == size:
            return code
    raise ResultError("this Python has no %d-byte integer array type" % size)


_DTYPES = {
    "f64": ("d", 8),
    "i64": (_typecode(8), 8),
    "i32": (_typecode(4), 4),
}


def _from_le(code, data):
    """A fresh array of the little-endian values in data (copied)."""
    a = array(code)
    a.frombytes(bytes(data))
    if sys.byteorder == "big":
        a.byteswap()
    return a


class Column:
    """One column of a table.

    ``data`` holds ``len`` values: an ``array`` for f64/i64/i32, a list of
    str for str columns.  Non-static columns are period-major
    (``row = period * n + element``); a *static* column has one value per
    element.  A Column is a read-only sequence over ``data``.
    """

    __slots__ = ("name", "unit", "dtype", "static", "data")

    def __init__(self, name, unit, dtype, static, data):
        self.name = name
        self.unit = unit
        self.dtype = dtype
        self.static = static
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]

    def __iter__(self):
        return iter(self.data)

    def __repr__(self):
        return "Column(%r, unit=%r, dtype=%r, static=%r, len=%d)" % (
            self.name, self.unit, self.dtype, self.static, len(self.data))

    def tolist(self):
        return list(self.data)


class Table:
    """One element kind (``nodes``, ``links``, ``bus``, ...).

    ``ids``: list of str, or ``array('q')`` of int64 ids; ``periods``:
    ``array('q')`` of seconds from the start (empty without a period axis);
    ``columns``: ordered dict name -> :class:`Column`.
    """

    def __init__(self, name, kind, id_name, ids_in_csv, ids, periods, columns):
        self.name = name
        self.kind = kind
        self.id_name = id_name
        self.ids_in_csv = ids_in_csv
        self.ids = ids
        self.periods = periods
        self.columns = columns

    @property
    def n(self):
        """Number of elements."""
        return len(self.ids)

    @property
    def nperiods(self):
        return len(self.periods)

    @property
    def rows(self):
        return self.n * (len(self.periods) if len(self.periods) > 0 else 1)

    def column(self, name):
        """The column called name (KeyError naming the columns there are)."""
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError("table '%s' has no column '%s' (it has: %s)"
                           % (self.name, name, ", ".join(self.columns))) from None

    def at(self, name, period):
        """Values of column name in one period (a slice; a static column
        returns all its values for every period)."""
        col = self.column(name)
        if col.static:
            return col.data[:]
        np = len(self.periods)
        if np == 0:
            if period != 0:
                raise IndexError("table '%s' has no periods" % self.name)
            return col.data[:]
        if period < 0:
            period += np
        if not 0 <= period < np:
            raise IndexError("period %d out of range (table '%s' has %d)" % (period, self.name, np))
        return col.data[period * self.n:(period + 1) * self.n]

    def to_dict(self):
        return {
            "kind": self.kind,
            "id_name": self.id_name,
            "ids": list(self.ids),
            "periods": list(self.periods),
            "units": {c.name: c.unit for c in self.columns.values()},
            "columns": {c.name: list(c.data) for c in self.columns.values()},
        }

    def __repr__(self):
        return "Table(%r, n=%d, periods=%d, columns=%s)" % (
            self.name, self.n, len(self.periods), list(self.columns))


class Result:
    """A decoded result: kernel, converged, iterations, tolerance, meta
    (dict, in order), tables (dict name -> :class:`Table`, in order) and
    ``raw``, the msgpack bytes it came from."""

    def __init__(self, kernel, kernel_version, input_hash, converged, iterations, tolerance,
                 meta, tables, raw=None, job=None):
        self.schema = SCHEMA
        self.kernel = kernel
        self.kernel_version = kernel_version
        self.input_hash = input_hash
        self.converged = converged
        self.iterations = iterations
        self.tolerance = tolerance
        self.meta = meta
        self.tables = tables
        self.raw = raw
        self.job = job

    def table(self, name):
        """The table called name (KeyError naming the tables there are)."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError("result has no table '%s' (it has: %s)"
                           % (name, ", ".join(self.tables))) from None

    def to_dict(self):
        """Plain Python data (lists, dicts), ready for json.dumps."""
        return {
            "job": self.job,
            "schema": self.schema,
            "kernel": self.kernel,
            "kernel_version": self.kernel_version,
            "input_hash": self.input_hash,
            "converged": self.converged,
            "iterations": self.iterations,
            "tolerance": self.tolerance,
            "meta": dict(self.meta),
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
        }

    def __repr__(self):
        return "Result(kernel=%r, converged=%r, tables=%s)" % (self.kernel, self.converged, list(self.tables))


def _decode_meta(meta):
    out = {}
    if meta is None:
        return out
    if not isinstance(meta, dict):
        raise ResultError("result: 'meta' is not a map")
    for k, v in meta.items():
        if not isinstance(k, str) or len(k.encode()) >= 128:
            raise ResultError("result: meta key %r is not a short string" % (k,))
        if isinstance(v, (str, bool, int, float)):
            out[k] = v
        elif isinstance(v, list):
            for j, x in enumerate(v):
                if isinstance(x, bool) or not isinstance(x, (int, float)):
                    raise ResultError("result: meta '%s'[%d] is not a number" % (k, j))
            out[k] = v
        else:
            raise ResultError("result: meta '%s' has an unsupported type" % k)
    return out


def _decode_column(tname, n, rows, co, ci):
    if not isinstance(co, dict):
        raise ResultError("result: table '%s' column %d is not a map" % (tname, ci))
    name = co.get("name")
    if not isinstance(name, str) or name == "":
        raise ResultError("result: table '%s' column %d: bad 'name'" % (tname, ci))
    where = "column '%s.%s'" % (tname, name)
    unit = co.get("unit")
    if not isinstance(unit, str):
        raise ResultError("result: %s: bad 'unit'" % where)
    dtype = co.get("dtype")
    if dtype not in ("f64", "i32", "i64", "str"):
        raise ResultError("result: %s: bad 'dtype' %r" % (where, dtype))
    static = co.get("static", False)
    if not isinstance(static, bool):
        raise ResultError("result: %s: 'static' is not a bool" % where)
    length = co.get("len")
    if isinstance(length, bool) or not isinstance(length, int):
        raise ResultError("result: %s: bad 'len'" % where)
    expect = n if static else rows
    if length != expect:
        raise ResultError("result: %s: len %d, table has %d rows" % (where, length, expect))
    data = co.get("data")
    if dtype == "str":
        if not isinstance(data, list) or len(data) != expect:
            raise ResultError("result: %s: data is not an array of %d strings" % (where, expect))
        for i, s in enumerate(data):
            if not isinstance(s, str):
                raise ResultError("result: %s row %d: not a string" % (where, i))
        values = list(data)
    else:
        code, size = _DTYPES[dtype]
        if not isinstance(data, (bytes, bytearray)) or len(data) != expect * size:
            raise ResultError("result: %s: data is not a bin of %d bytes" % (where, expect * size))
        values = _from_le(code, data)
    return Column(name, unit, dtype, static, values)


def _decode_table(to, ti):
    if not isinstance(to, dict):
        raise ResultError("result: table %d is not a map" % ti)
    name = to.get("name")
    if not isinstance(name, str) or name == "":
        raise ResultError("result: table %d: bad 'name'" % ti)
    kind = to.get("kind")
    id_name = to.get("id_name")
    if not isinstance(kind, str):
        raise ResultError("result: table '%s': bad 'kind'" % name)
    if not isinstance(id_name, str):
        raise ResultError("result: table '%s': bad 'id_name'" % name)
    ids_in_csv = to.get("ids_in_csv", True)
    if not isinstance(ids_in_csv, bool):
        raise ResultError("result: table '%s': 'ids_in_csv' is not a bool" % name)
    n = to.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > (1 << 40):
        raise ResultError("result: table '%s': bad 'n'" % name)
    ids = to.get("ids")
    if isinstance(ids, list):
        if len(ids) != n:
            raise ResultError("result: table '%s': %d ids for n=%d" % (name, len(ids), n))
        for i, s in enumerate(ids):
            if not isinstance(s, str):
                raise ResultError("result: table '%s': id %d is not a string" % (name, i))
        ids = list(ids)
    elif isinstance(ids, (bytes, bytearray)):
        if len(ids) != n * 8:
            raise ResultError("result: table '%s': ids bin of %d bytes for n=%d" % (name, len(ids), n))
        ids = _from_le(_DTYPES["i64"][0], ids)
    elif ids is None and "ids" not in to:
        raise ResultError("result: table '%s': no 'ids'" % name)
    else:
        raise ResultError("result: table '%s': 'ids' is neither an array nor a bin" % name)
    per = to.get("periods")
    if per is None:
        periods = array(_DTYPES["i64"][0])
    elif isinstance(per, (bytes, bytearray)) and len(per) % 8 == 0:
        periods = _from_le(_DTYPES["i64"][0], per)
    else:
        raise ResultError("result: table '%s': 'periods' is not a bin of int64" % name)
    cols = to.get("columns")
    if not isinstance(cols, list):
        raise ResultError("result: table '%s': 'columns' is not an array" % name)
    rows = n * (len(periods) if len(periods) > 0 else 1)
    columns = {}
    for ci, co in enumerate(cols):
        c = _decode_column(name, n, rows, co, ci)
        if c.name in columns:
            raise ResultError("result: table '%s': column '%s' appears twice" % (name, c.name))
        columns[c.name] = c
    return Table(name, kind, id_name, ids_in_csv, ids, periods, columns)


def decode_result(data, job=None):
    """Decode result bytes (the body of a ``result`` message, or a file
    written from one) into a :class:`Result`.  Raises ResultError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ResultError("result: expected bytes, got %s" % type(data).__name__)
    data = bytes(data)
    if len(data) == 0:
        raise ResultError("result: empty (0 bytes)")
    if len(data) > MAX_RESULT_BYTES:
        raise ResultError("result: %d bytes, more than %d" % (len(data), MAX_RESULT_BYTES))
    try:
        root = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except msgpack.ExtraData:
        raise ResultError("result: trailing bytes after the msgpack map") from None
    except (ValueError, TypeError, UnicodeDecodeError, msgpack.UnpackException) as e:
        raise ResultError("result: not valid msgpack (%s: %s)" % (type(e).__name__, e)) from None
    except Exception as e:  # msgpack raises a few other kinds on hostile input
        raise ResultError("result: cannot unpack (%s: %s)" % (type(e).__name__, e)) from None
    if not isinstance(root, dict):
        raise ResultError("result: not a msgpack map")
    schema = root.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise ResultError("result: no 'schema' version")
    if schema != SCHEMA:
        raise ResultError("result: schema %d, this client reads %d" % (schema, SCHEMA))
    kernel = root.get("kernel")
    version = root.get("kernel_version")
    if not isinstance(kernel, str) or not isinstance(version, str):
        raise ResultError("result: bad 'kernel' or 'kernel_version'")
    input_hash = root.get("input_hash", "")
    if not isinstance(input_hash, str):
        raise ResultError("result: bad 'input_hash'")
    converged = root.get("converged", False)
    iterations = root.get("iterations", 0)
    tolerance = root.get("tolerance", 0.0)
    if (not isinstance(converged, bool) or isinstance(iterations, bool) or not isinstance(iterations, int)
            or isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))):
        raise ResultError("result: bad 'converged', 'iterations' or 'tolerance'")
    meta = _decode_meta(root.get("meta"))
    tables_in = root.get("tables")
    if not isinstance(tables_in, list):
        raise ResultError("result: 'tables' is not an array")
    tables = {}
    for ti, to in enumerate(tables_in):
        t = _decode_table(to, ti)
        if t.name in tables:
            raise ResultError("result: table '%s' appears twice" % t.name)
        tables[t.name] = t
    return Result(kernel, version, input_hash, converged, iterations, float(tolerance), meta, tables,
                  raw=data, job=job)

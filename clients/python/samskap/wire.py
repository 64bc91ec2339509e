"""The samskap wire protocol, version 1.0 (docs/protocol.md, bus/sk_proto.c).

A message is one multipart ZeroMQ message: a 4-byte signature frame
``b"SK\\x01\\x00"``, a header frame (a msgpack map with short string keys;
only ``t`` is required) and up to 16 body frames.  DEALER peers never see
routing ids.
"""

import msgpack

from .errors import ProtocolError

MAJOR = 1
MINOR = 0
SIGNATURE = bytes((ord("S"), ord("K"), MAJOR, MINOR))

SUBMIT, ACCEPTED, JOB, PROGRESS, RESULT, FAILED, CANCEL, READY, HEARTBEAT, \
    DISCONNECT, STATUS, JOBS, REPLY, WAIT, ERROR, EVENT, HISTORY_PUT, HISTORY_GET, \
    DATA_PUT, DATA_GET, DATA_LIST, GRAPH = range(1, 23)
MAX_TYPE = GRAPH
TYPE_NAMES = {
    SUBMIT: "submit", ACCEPTED: "accepted", JOB: "job", PROGRESS: "progress",
    RESULT: "result", FAILED: "failed", CANCEL: "cancel", READY: "ready",
    HEARTBEAT: "heartbeat", DISCONNECT: "disconnect", STATUS: "status", JOBS: "jobs",
    REPLY: "reply", WAIT: "wait", ERROR: "error", EVENT: "event",
    HISTORY_PUT: "history_put", HISTORY_GET: "history_get", DATA_PUT: "data_put", DATA_GET: "data_get",
    DATA_LIST: "data_list", GRAPH: "graph",
}

MAX_FRAME = 64 << 20        # default --max-frame of the broker
MAX_BODIES = 16
ID_MAX = 64                 # ids are < 64 bytes (63 + NUL in C)
IDEM_MAX = 128              # idempotency key < 128 bytes
PARAM_KEY_MAX = 128         # param keys up to 128 bytes
HEADER_MAX = 64 << 10       # header frame limit
DATASET_MAX = 16 << 30      # largest dataset the broker stores (broker/datasets.h)
GRAPH_MAX_NODES = 4096      # bus/sk_graph.h
GRAPH_MAX_NODE_BYTES = 64 << 10

# Header fields as the C decoder types them (bus/sk_proto.c).
_STR_FIELDS = {"job": ID_MAX, "svc": ID_MAX, "tenant": ID_MAX, "idem": IDEM_MAX,
               "client": ID_MAX, "reason": 512, "text": 256, "node": ID_MAX}
_INT_FIELDS = ("req", "attempt", "deadline_ms", "code", "capacity", "offset", "total")


def check_id(value, what, limit=ID_MAX):
    """Raise ValueError unless value is a str that fits a header id field."""
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    b = value.encode("utf-8")
    if len(b) >= limit:
        raise ValueError("%s is %d bytes; the protocol allows at most %d" % (what, len(b), limit - 1))
    if b"\0" in b:
        raise ValueError("%s must not contain a NUL byte" % what)
    return value


def check_params(params):
    """Validate job params: str keys up to 128 bytes -> str, int, float or bool."""
    out = {}
    for k, v in (params or {}).items():
        if not isinstance(k, str) or k == "":
            raise ValueError("param keys must be non-empty strings (got %r)" % (k,))
        if len(k.encode("utf-8")) > PARAM_KEY_MAX:
            raise ValueError("param key '%s' is longer than %d bytes" % (k, PARAM_KEY_MAX))
        if isinstance(v, bool):
            out[k] = v
        elif isinstance(v, int):
            if not -(1 << 63) <= v < (1 << 63):
                raise ValueError("param '%s' does not fit in 64 bits" % k)
            out[k] = v
        elif isinstance(v, float):
            out[k] = v
        elif isinstance(v, str):
            if "\0" in v:
                raise ValueError("param '%s' must not contain a NUL byte" % k)
            out[k] = v
        else:
            raise TypeError("param '%s' must be a str, int, float or bool, not %s" % (k, type(v).__name__))
    return out


def encode(header, bodies=()):
    """Frames of one message: signature, msgpack header, bodies."""
    if "t" not in header:
        raise ValueError("header needs a message type 't'")
    hdr = {k: v for k, v in header.items() if v is not None}
    packed = msgpack.packb(hdr, use_bin_type=True)
    if len(packed) > HEADER_MAX:
        raise ValueError("header is %d bytes; the protocol allows %d" % (len(packed), HEADER_MAX))
    return [SIGNATURE, packed] + list(bodies)


def encode_graph(headers):
    """Body of a `graph` message (bus/sk_graph.c): a msgpack array of bins,
    each holding one submit header exactly as its own header frame would."""
    if not 1 <= len(headers) <= GRAPH_MAX_NODES:
        raise ValueError("a graph has 1..%d nodes, not %d" % (GRAPH_MAX_NODES, len(headers)))
    packed = []
    for k, h in enumerate(headers):
        if h.get("t") != SUBMIT or h.get("bodies"):
            raise ValueError("graph node %d: want a submit header without bodies" % k)
        b = msgpack.packb({key: v for key, v in h.items() if v is not None}, use_bin_type=True)
        if len(b) > GRAPH_MAX_NODE_BYTES:
            raise ValueError("graph node %d: its header is %d bytes, limit %d" % (k, len(b), GRAPH_MAX_NODE_BYTES))
        packed.append(b)
    body = msgpack.packb(packed, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ValueError("graph is %d bytes; the bus carries at most %d bytes per frame" % (len(body), MAX_FRAME))
    return body


class Message:
    """A received message: ``type``, ``header`` (dict) and ``bodies`` (bytes)."""

    __slots__ = ("type", "header", "bodies")

    def __init__(self, type_, header, bodies):
        self.type = type_
        self.header = header
        self.bodies = bodies

    def get(self, key, default=None):
        return self.header.get(key, default)

    @property
    def job(self):
        return self.header.get("job", "")

    @property
    def req(self):
        return self.header.get("req", 0)

    def __repr__(self):
        return "Message(%s, %r, %d bodies)" % (TYPE_NAMES.get(self.type, "?"), self.header, len(self.bodies))


def decode(frames):
    """Decode a list of frames (bytes) into a Message; ProtocolError if it
    does not follow the protocol (the same checks as sk_wire_recv)."""
    if len(frames) < 1:
        raise ProtocolError("empty message")
    sig = bytes(frames[0])
    if len(sig) != 4 or sig[0:2] != b"SK":
        raise ProtocolError("not a samskap message (bad signature frame)")
    if sig[2] != MAJOR:
        raise ProtocolError("protocol version %d.%d, this side speaks %d.x" % (sig[2], sig[3], MAJOR))
    if len(frames) < 2:
        raise ProtocolError("message ends after the signature frame (no header)")
    raw = bytes(frames[1])
    if len(raw) > HEADER_MAX:
        raise ProtocolError("header: %d bytes, the limit is %d" % (len(raw), HEADER_MAX))
    try:
        h = msgpack.unpackb(raw, raw=False, strict_map_key=False,
                            max_str_len=HEADER_MAX, max_bin_len=HEADER_MAX,
                            max_array_len=4096, max_map_len=4096)
    except Exception as e:
        raise ProtocolError("header: cannot unpack (%s)" % e) from None
    if not isinstance(h, dict):
        raise ProtocolError("header: not a msgpack map")
    t = h.get("t")
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= MAX_TYPE:
        raise ProtocolError("header: missing or unknown message type 't'")
    header = {}
    for k, v in h.items():
        if not isinstance(k, str):
            continue  # unknown keys are ignored (forward compatibility)
        if k in _STR_FIELDS:
            if not isinstance(v, str) or len(v.encode("utf-8")) >= _STR_FIELDS[k]:
                raise ProtocolError("header: field '%s' must be a string shorter than %d bytes"
                                    % (k, _STR_FIELDS[k]))
        elif k in _INT_FIELDS:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ProtocolError("header: field '%s' must be an integer" % k)
        elif k == "progress":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ProtocolError("header: 'progress' must be a number")
            v = float(v)
        elif k == "bodies":
            if not isinstance(v, list) or len(v) > MAX_BODIES or not all(isinstance(x, str) for x in v):
                raise ProtocolError("header: 'bodies' must be an array of at most %d names" % MAX_BODIES)
        header[k] = v
    bodies = [bytes(f) for f in frames[2:]]
    if len(bodies) > MAX_BODIES:
        raise ProtocolError("more than %d body frames" % MAX_BODIES)
    names = header.get("bodies")
    if names and len(names) != len(bodies):
        raise ProtocolError("header names %d bodies, %d body frames arrived" % (len(names), len(bodies)))
    return Message(t, header, bodies)

"""A blocking client for the samskap broker (the Python twin of
bus/sk_client.c and the `samskap submit/wait/cancel/services/jobs`,
`dataset put/list` and `indicators` commands, and of the job graphs
`samskap run` sends).

One Client owns one ZeroMQ DEALER socket with a fixed random routing id
``c-<24 hex>``, so the broker can reach it again after either side
reconnects.  It is not thread-safe: use one Client per thread.
"""

import binascii
import collections
import collections.abc
import csv
import datetime
import hashlib
import io
import json
import os
import re
import time

import zmq

from . import wire
from .errors import (BrokerUnreachable, ProtocolError, ResultError,
                     UploadError, WaitTimeout, job_error)
from .result import decode_result

DEFAULT_BROKER = "tcp://127.0.0.1:5570"
SEEN_WINDOW = 65536      # outcomes de-duplicated over the last 65,536 jobs (as the C client)
KEPT_OUTCOMES = 1024     # outcomes received but not yet asked for by wait()
DEADLINE_SLACK_S = 5.0   # wait() past a job's deadline, as the CLI does
UPLOAD_CHUNK = 1 << 20   # data_put chunk, as `samskap run` and `dataset put` send
FETCH_CHUNK = 1 << 20    # data_get chunk asked for; the broker answers at most its --max-frame
CHUNK_MIN = 1024         # the CLI's --chunk range
CHUNK_MAX = wire.MAX_FRAME - 65536
GRAPH_IDEM_MAX = 100     # the broker makes node K's key "IDEM#K" from the first 100 bytes
HISTORY_COLUMNS = ("date", "scenario", "indicator", "area", "name", "variant", "value", "band",
                   "job", "plugin", "plugin_hash", "simulation", "kernel", "inputs")

_HASH = re.compile(r"sha256:[0-9a-f]{64}\Z")
_NODE_REF = re.compile(r"@([0-9]{1,7})\Z")
# A number as sk_fmt_f64 prints it (C locale): no spaces, no "_", no ",".
_C_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|nan)\Z")


_NODE_KEYS = frozenset(("service", "params", "timeout", "tenant", "idempotency_key", "datasets", "after",
                        "inputs"))


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, collections.abc.Mapping):
        raise TypeError("%s must be a dict, not %s" % (what, type(value).__name__))
    return value


def default_broker():
    return os.environ.get("SAMSKAP_BROKER") or DEFAULT_BROKER


def default_tenant():
    return os.environ.get("SAMSKAP_TENANT") or "default"


def _z85_or_raw(key, what):
    """CURVE keys: 40-char Z85 text (str or bytes) or 32 raw bytes."""
    if isinstance(key, str):
        key = key.encode("ascii")
    if not isinstance(key, (bytes, bytearray)) or len(key) not in (32, 40):
        raise ValueError("%s must be a 40-character Z85 key or 32 raw bytes" % what)
    return bytes(key)


class Client:
    """A connection to a broker's frontend.

    endpoint        broker frontend (default $SAMSKAP_BROKER or tcp://127.0.0.1:5570)
    tenant          tenant of submitted jobs (default $SAMSKAP_TENANT or "default")
    connect_timeout seconds to wait for the broker to answer a request (default 10)
    on_progress     default progress callback f(job, fraction, text)
    curve_server_key, curve_public_key, curve_secret_key
                    for brokers with CURVE enabled (coming with issue 7): when
                    given, the socket is a CURVE client with these keys (Z85
                    text or 32 raw bytes).  Today's broker has no CURVE.
    context         a zmq.Context to use (default: zmq.Context.instance())
    """

    def __init__(self, endpoint=None, tenant=None, connect_timeout=10.0, on_progress=None,
                 curve_server_key=None, curve_public_key=None, curve_secret_key=None, context=None):
        self.endpoint = endpoint or default_broker()
        self.tenant = wire.check_id(tenant if tenant is not None else default_tenant(), "tenant")
        if self.tenant == "":
            raise ValueError("tenant must not be empty")
        self.connect_timeout = float(connect_timeout)
        self.on_progress = on_progress
        self.id = "c-" + binascii.hexlify(os.urandom(12)).decode("ascii")
        self._next_req = 0
        self._expect = {}                              # req -> Message or None (pending requests)
        self._outcomes = collections.OrderedDict()     # job -> Message, not yet given to wait()
        self._seen = set()                             # jobs whose outcome was taken in
        self._seen_ring = collections.deque()
        self._asking = collections.Counter()           # jobs with a wait/cancel in flight
        self._deadlines = {}                           # job -> deadline seconds given at submit
        self._job_tenant = {}                          # job -> tenant it was submitted under
        self._last_progress = {}                       # job -> (fraction, text), drops duplicates
        self._graph_reqs = set()                       # graph requests: their jobs' outcomes are no answer
        self._ctx = context or zmq.Context.instance()
        self._curve = (curve_server_key, curve_public_key, curve_secret_key)
        self._sock = self._ctx.socket(zmq.DEALER)
        try:
            keys = (curve_server_key, curve_public_key, curve_secret_key)
            if any(k is not None for k in keys):
                if not all(k is not None for k in keys):
                    raise ValueError("CURVE needs curve_server_key, curve_public_key and curve_secret_key")
                if not zmq.has("curve"):
                    raise ValueError("this libzmq was built without CURVE")
                self._sock.setsockopt(zmq.CURVE_SERVERKEY, _z85_or_raw(curve_server_key, "curve_server_key"))
                self._sock.setsockopt(zmq.CURVE_PUBLICKEY, _z85_or_raw(curve_public_key, "curve_public_key"))
                self._sock.setsockopt(zmq.CURVE_SECRETKEY, _z85_or_raw(curve_secret_key, "curve_secret_key"))
            self._sock.setsockopt(zmq.ROUTING_ID, self.id.encode("ascii"))
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.SNDHWM, 100000)
            self._sock.setsockopt(zmq.RCVHWM, 100000)
            self._sock.connect(self.endpoint)
        except zmq.ZMQError as e:
            self._sock.close(0)
            raise ValueError("cannot connect to %s: %s" % (self.endpoint, e)) from None
        except Exception:
            self._sock.close(0)
            raise
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)

    # ---- lifetime ----

    def close(self):
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- sending and receiving ----

    def _send(self, header, bodies=()):
        if self._sock is None:
            raise ValueError("client is closed")
        self._next_req += 1
        header = dict(header, req=self._next_req)
        frames = wire.encode(header, bodies)
        self._expect[self._next_req] = None
        try:
            self._sock.send_multipart(frames, copy=len(bodies) == 0)
        except zmq.ZMQError as e:
            del self._expect[self._next_req]
            raise BrokerUnreachable(self.endpoint, 0, "send (%s)" % e) from None
        return self._next_req

    def _remember(self, job):
        if job in self._seen:
            return
        self._seen.add(job)
        self._seen_ring.append(job)
        if len(self._seen_ring) > SEEN_WINDOW:
            self._seen.discard(self._seen_ring.popleft())

    def _take(self, msg, progress_cb):
        """File one received message where the waiting code looks for it."""
        t, job, req = msg.type, msg.job, msg.req
        if t == wire.PROGRESS:
            frac = msg.get("progress", -1.0)
            text = msg.get("text", "")
            if job in self._seen:
                return  # a late update of a job whose outcome is in
            if self._last_progress.get(job) == (frac, text):
                return  # the same update reached us as submitter and as waiter
            self._last_progress[job] = (frac, text)
            cb = progress_cb if progress_cb is not None else self.on_progress
            if cb is not None and job:
                cb(job, frac, text)
            return
        if t in (wire.RESULT, wire.FAILED) and job:
            # Exactly once at the client: a job's outcome is taken in once,
            # unless a wait/cancel for it is in flight (it then asked for it).
            if job in self._seen and self._asking[job] == 0:
                return
            self._remember(job)
            self._last_progress.pop(job, None)
            self._outcomes[job] = msg
            self._outcomes.move_to_end(job)
            if len(self._outcomes) > KEPT_OUTCOMES:
                # Drop the oldest nobody is asking for; the broker keeps it
                # for wait() (--result-ttl).
                for old in list(self._outcomes):
                    if len(self._outcomes) <= KEPT_OUTCOMES:
                        break
                    if self._asking[old] == 0:
                        del self._outcomes[old]
            if req in self._expect and self._expect[req] is None and req not in self._graph_reqs:
                self._expect[req] = msg
            return
        if t == wire.ERROR and req == 0:
            # The broker could not read our header (no req): it answers
            # every request we are waiting on.
            for r in self._expect:
                if self._expect[r] is None:
                    self._expect[r] = msg
            return
        if req in self._expect and self._expect[req] is None:
            self._expect[req] = msg

    def _pump(self, timeout_s, progress_cb=None):
        """Receive and file messages for up to timeout_s (None: forever);
        returns after the first message or when the time is up."""
        ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
        if not self._poller.poll(ms):
            return False
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.DONTWAIT)
            except zmq.Again:
                return True
            try:
                msg = wire.decode(frames)
            except ProtocolError:
                continue  # a malformed message is dropped, like sk_client_recv does
            self._take(msg, progress_cb)

    def _await(self, cond, timeout_s, progress_cb=None):
        """Pump until cond() is true; False when timeout_s (None: never) passes."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not cond():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return cond()
            self._pump(left, progress_cb)
        return True

    def _request(self, header, bodies=(), what="answer", graph=False):
        """Send a request and wait connect_timeout for the reply carrying its
        req.  A graph's jobs carry the graph's req in their outcomes, which
        may come before its reply: for a graph they are no answer."""
        req = self._send(header, bodies)
        if graph:
            self._graph_reqs.add(req)
        try:
            if not self._await(lambda: self._expect[req] is not None, self.connect_timeout):
                raise BrokerUnreachable(self.endpoint, self.connect_timeout, what)
            return self._expect[req]
        finally:
            self._expect.pop(req, None)
            self._graph_reqs.discard(req)

    @staticmethod
    def _raise_failure(msg, job=None):
        raise job_error(msg.get("code", -4) or -4, msg.get("reason", ""), msg.job or job)

    # ---- jobs ----

    def _tenant(self, tenant):
        tenant = wire.check_id(tenant if tenant is not None else self.tenant, "tenant")
        if tenant == "":
            raise ValueError("tenant must not be empty")
        return tenant

    @staticmethod
    def _ref_name(name, what):
        """An input named in deps or datasets: the broker splits "A=B" at
        the first '=', so the name must not hold one."""
        wire.check_id(name, what)
        if name == "" or "=" in name:
            raise ValueError("%s %r must be non-empty and hold no '='" % (what, name))
        return name

    def _job_header(self, service, params=None, timeout=None, idempotency_key=None, tenant=None,
                    datasets=None, after=None, input_names=(), node=None, node_tenants=()):
        """A submit header (everything but the body frames), checked before
        anything is sent, with the limits of the C client's submit_header.
        node is the index of a graph node (its "@K" dependencies must name
        an earlier node of the same tenant: node_tenants[K]), None for a
        job of its own."""
        where = "" if node is None else "graph node %d: " % node
        service = wire.check_id(service, where + "service")
        if service == "":
            raise ValueError(where + "service must be set")
        tenant = self._tenant(tenant)
        header = {"t": wire.SUBMIT, "svc": service, "tenant": tenant}
        if idempotency_key is not None and idempotency_key != "":
            header["idem"] = wire.check_id(idempotency_key, where + "idempotency key", wire.IDEM_MAX)
        if timeout is not None:
            if timeout <= 0:
                raise ValueError(where + "timeout must be positive (seconds)")
            header["deadline_ms"] = max(1, int(round(timeout * 1000)))
        p = wire.check_params(params)
        if p:
            header["params"] = p
        names = list(input_names)
        dsets = []
        for name, ref in _mapping(datasets, where + "datasets").items():
            self._ref_name(name, where + "dataset input name")
            if not isinstance(ref, str) or not _HASH.match(ref):
                raise ValueError("%sdataset input '%s': %r is not a dataset name sha256:<64 lowercase hex> "
                                 "(Client.upload returns one)" % (where, name, ref))
            names.append(name)
            dsets.append("%s=%s" % (name, ref))
        if len(dsets) > wire.MAX_BODIES:
            raise ValueError("%sat most %d dataset inputs per job, not %d" % (where, wire.MAX_BODIES, len(dsets)))
        deps = []
        for name, dep in _mapping(after, where + "after").items():
            self._ref_name(name, where + "dependency input name")
            if node is not None and isinstance(dep, int) and not isinstance(dep, bool):
                dep = "@%d" % dep
            if not isinstance(dep, str):
                raise TypeError("%sdependency '%s' must be a job id (str)%s, not %s"
                                % (where, name, "" if node is None else " or an earlier node's index",
                                   type(dep).__name__))
            if dep.startswith("@"):
                m = _NODE_REF.match(dep)
                if node is None:
                    raise ValueError("dependency '%s': '%s' names a node of a graph; use submit_graph, "
                                     "or give a job id" % (name, dep))
                if m is None or int(m.group(1)) >= node:
                    raise ValueError("%sdependency '%s' is '%s': it must name an earlier node (@K, K < %d) "
                                     "or a job id" % (where, name, dep, node))
                k = int(m.group(1))
                if node_tenants[k] != tenant:
                    raise ValueError("%sdependency '%s' is node %d of tenant '%s'; this node's tenant is '%s'"
                                     % (where, name, k, node_tenants[k], tenant))
            else:
                self._ref_name(dep, where + "dependency job id")
            names.append(name)
            deps.append("%s=%s" % (dep, name))
        if len(deps) > wire.MAX_BODIES:
            raise ValueError("%sat most %d dependencies per job, not %d" % (where, wire.MAX_BODIES, len(deps)))
        # The broker gives a job at most 16 inputs in all; a dependency past
        # that would fail the job only when its upstream finishes.
        if len(names) > wire.MAX_BODIES:
            raise ValueError("%sat most %d inputs per job (files, datasets and dependencies together), not %d"
                             % (where, wire.MAX_BODIES, len(names)))
        seen = set()
        for name in names:
            if name in seen:
                raise ValueError("%sinput '%s' is given twice (inputs, datasets and after share names)"
                                 % (where, name))
            seen.add(name)
        if deps:
            header["deps"] = deps
        if dsets:
            header["datasets"] = dsets
        return header

    def submit(self, service, inputs=None, params=None, timeout=None, idempotency_key=None, tenant=None,
               datasets=None, after=None):
        """Submit a job; returns its id once the broker has accepted it.

        inputs           {name: bytes | path}: body frames, in order (a str or
                         os.PathLike value is a file to read)
        params           {name: str | int | float | bool}
        timeout          seconds: the job's deadline (deadline_ms); the broker
                         and node fail it with TimedOut when it passes
        idempotency_key  the same tenant + key returns the same job
        tenant           overrides the client's tenant for this job
        datasets         {name: "sha256:HEX"}: inputs the node fetches from
                         the tenant's stored datasets (Client.upload)
        after            {name: job id}: the job waits for these jobs and
                         gets each one's result as the input `name`

        Raises BrokerUnreachable when the broker does not answer within
        connect_timeout, a JobError (Refused, LimitExceeded, InvalidInput,
        NotFound for a dataset the tenant does not hold...) when it refuses
        the job, ValueError/TypeError for bad arguments.
        """
        inputs = _mapping(inputs, "inputs")
        for name in inputs:
            wire.check_id(name, "input name")
        header = self._job_header(service, params, timeout, idempotency_key, tenant, datasets, after,
                                  input_names=inputs.keys())
        tenant = header["tenant"]
        names, bodies = [], []
        for name, value in inputs.items():
            if isinstance(value, (str, os.PathLike)):
                size = os.path.getsize(value)
                if size > wire.MAX_FRAME:
                    raise ValueError("input '%s' is %d bytes; the bus carries at most %d bytes per frame"
                                     % (name, size, wire.MAX_FRAME))
                with open(value, "rb") as f:
                    value = f.read()
            elif isinstance(value, (bytes, bytearray, memoryview)):
                value = bytes(value)
            else:
                raise TypeError("input '%s' must be bytes or a path, not %s" % (name, type(value).__name__))
            if len(value) > wire.MAX_FRAME:
                raise ValueError("input '%s' is %d bytes; the bus carries at most %d bytes per frame"
                                 % (name, len(value), wire.MAX_FRAME))
            names.append(name)
            bodies.append(value)
        if names:
            header["bodies"] = names
        msg = self._request(header, bodies, "answer to the submit")
        if msg.type == wire.ACCEPTED and msg.job:
            job = msg.job
            self._job_tenant[job] = tenant
            if timeout is not None:
                self._deadlines[job] = float(timeout)
            return job
        if msg.type in (wire.FAILED, wire.ERROR):
            self._raise_failure(msg)
        raise ProtocolError("unexpected %s message in answer to a submit"
                            % wire.TYPE_NAMES.get(msg.type, "?"))

    def submit_graph(self, nodes, tenant=None, idempotency_key=None):
        """Submit a job graph in one message; returns the job ids, in node
        order, once the broker has made every job (collect each outcome
        with wait()).

        nodes            a list of dicts with submit's arguments: service,
                         params, timeout, tenant (default: the graph's),
                         idempotency_key, datasets, after.  No `inputs`:
                         files go in as datasets (upload them first).  In
                         `after`, "@K" (or the int K) names the earlier
                         node K of this graph, of the same tenant.
        tenant           the graph's tenant (default: the client's)
        idempotency_key  the same tenant + key returns the same jobs (node K
                         gets the key "KEY#K")

        The broker checks the whole graph first (tenants, datasets, queue
        room) and refuses it with a JobError naming the node before it makes
        any job; ValueError/TypeError for bad arguments, before anything is
        sent.
        """
        tenant = self._tenant(tenant)
        nodes = list(nodes)
        if not 1 <= len(nodes) <= wire.GRAPH_MAX_NODES:
            raise ValueError("a graph has 1..%d nodes, not %d" % (wire.GRAPH_MAX_NODES, len(nodes)))
        header = {"t": wire.GRAPH, "tenant": tenant, "bodies": ["graph"]}
        if idempotency_key is not None and idempotency_key != "":
            header["idem"] = wire.check_id(idempotency_key, "graph idempotency key", GRAPH_IDEM_MAX + 1)
        headers, tenants, deadlines = [], [], []
        for k, node in enumerate(nodes):
            if not isinstance(node, collections.abc.Mapping):
                raise TypeError("graph node %d must be a dict of submit's arguments, not %s"
                                % (k, type(node).__name__))
            if node.get("inputs"):
                raise ValueError("graph node %d (%s): inputs must be datasets (Client.upload) or dependencies, "
                                 "not bytes or files" % (k, node.get("service", "")))
            unknown = sorted(str(key) for key in node if key not in _NODE_KEYS)
            if unknown:
                raise ValueError("graph node %d: unknown key '%s' (a node has %s)"
                                 % (k, unknown[0], ", ".join(sorted(_NODE_KEYS - {"inputs"}))))
            if "service" not in node:
                raise ValueError("graph node %d: no service" % k)
            h = self._job_header(node["service"], node.get("params"), node.get("timeout"),
                                 node.get("idempotency_key"), node.get("tenant", tenant), node.get("datasets"),
                                 node.get("after"), node=k, node_tenants=tenants)
            headers.append(h)
            tenants.append(h["tenant"])
            deadlines.append(node.get("timeout"))
        body = wire.encode_graph(headers)
        msg = self._request(header, [body], "answer to the graph", graph=True)
        if msg.type in (wire.FAILED, wire.ERROR):
            self._raise_failure(msg)
        reply = self._reply_json(msg)
        jobs = reply.get("jobs") if isinstance(reply, dict) else None
        if not isinstance(jobs, list) or len(jobs) != len(nodes) or \
                not all(isinstance(j, str) and j for j in jobs):
            raise ProtocolError("graph reply does not list %d job ids: %r" % (len(nodes), reply))
        for job, t, d in zip(jobs, tenants, deadlines):
            self._job_tenant[job] = t
            if d is not None:
                self._deadlines[job] = float(d)
        return jobs

    def _result_ref(self, msg):
        """The ["result", hash, size] reference of a result the broker
        holds as a dataset (docs/protocol.md, "Results by reference"), or
        None for a result carried in the message."""
        if msg.bodies:
            return None
        for ref in msg.get("refs") or ():
            if (isinstance(ref, (list, tuple)) and len(ref) == 3 and ref[0] == "result"
                    and isinstance(ref[1], str) and isinstance(ref[2], int) and ref[2] >= 0):
                return ref
        return None

    def _download_result(self, job, msg, ref):
        """Download a result held by reference, chunk by chunk (data_get
        naming the job), and check that the whole hashes to its name."""
        _, name, size = ref
        tenant = msg.get("tenant") or self.tenant
        parts, got, chunk = [], 0, FETCH_CHUNK
        while got < size:
            header = {"t": wire.DATA_GET, "job": job, "tenant": tenant, "text": name, "offset": got,
                      "total": min(chunk, size - got)}
            reply = self._request(header, (), "answer while downloading the result of job %s" % job)
            if reply.type != wire.REPLY:
                raise job_error(reply.get("code", -4) or -4,
                                "cannot download the result of job %s (%d of %d bytes): %s"
                                % (job, got, size, reply.get("reason", "")), job)
            if len(reply.bodies) != 1 or reply.get("offset", 0) != got or not reply.bodies[0]:
                raise ProtocolError("job %s: a result chunk at offset %s with %d bodies, expected one at %d"
                                    % (job, reply.get("offset"), len(reply.bodies), got))
            body = reply.bodies[0]
            if got + len(body) > size:
                raise ProtocolError("job %s: the result's chunks exceed its %d bytes" % (job, size))
            parts.append(body)
            got += len(body)
            chunk = max(chunk, len(body))
        data = b"".join(parts)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest != name:
            raise ResultError("job %s: the downloaded result hashes to %s, not %s" % (job, digest, name))
        return data

    def _outcome(self, job, msg):
        self._outcomes.pop(job, None)
        ref = self._result_ref(msg) if msg.type == wire.RESULT else None
        if ref is not None:
            data = self._download_result(job, msg, ref)
            try:
                return decode_result(data, job=job)
            except ResultError as e:
                raise ResultError("job %s: cannot read its result: %s" % (job, e)) from None
        if msg.type == wire.RESULT:
            if len(msg.bodies) != 1:
                raise ProtocolError("job %s: result message with %d bodies, expected 1" % (job, len(msg.bodies)))
            try:
                return decode_result(msg.bodies[0], job=job)
            except ResultError as e:
                raise ResultError("job %s: cannot read its result: %s" % (job, e)) from None
        self._raise_failure(msg, job)

    def wait(self, job, timeout=None, on_progress=None):
        """Wait for a job's outcome; returns its Result.

        Sends WAIT (the broker then sends the outcome, again if it finished
        already).  timeout: seconds to wait locally (default: the deadline
        given at submit plus 5 s, or no limit); WaitTimeout when it passes,
        since the job may still finish.  on_progress(job, fraction, text) is
        called for progress messages.  A failed job raises its JobError
        (Cancelled, TimedOut, NotFound, ...).
        """
        wire.check_id(job, "job")
        if job in self._outcomes:
            return self._outcome(job, self._outcomes[job])
        if timeout is None and job in self._deadlines:
            timeout = self._deadlines[job] + DEADLINE_SLACK_S
        tenant = self._job_tenant.get(job, self.tenant)
        start = time.monotonic()
        self._asking[job] += 1
        try:
            req = self._send({"t": wire.WAIT, "job": job, "tenant": tenant})
            try:
                # First the broker's answer (accepted with the job's state,
                # or the outcome), within the connect timeout...
                answered = lambda: job in self._outcomes or self._expect[req] is not None
                first = self.connect_timeout if timeout is None else min(self.connect_timeout, timeout)
                if not self._await(answered, first, on_progress):
                    if timeout is not None and timeout <= self.connect_timeout:
                        raise WaitTimeout(job, timeout)
                    raise BrokerUnreachable(self.endpoint, self.connect_timeout, "answer to wait")
                m = self._expect[req]
                if job not in self._outcomes and m is not None and m.type == wire.ERROR:
                    self._raise_failure(m, job)
            finally:
                self._expect.pop(req, None)
            # ...then the outcome.
            left = None if timeout is None else timeout - (time.monotonic() - start)
            if not self._await(lambda: job in self._outcomes, left, on_progress):
                raise WaitTimeout(job, timeout)
            return self._outcome(job, self._outcomes[job])
        finally:
            self._asking[job] -= 1
            if self._asking[job] <= 0:
                del self._asking[job]

    def run(self, service, inputs=None, params=None, timeout=None, idempotency_key=None,
            on_progress=None, tenant=None, datasets=None, after=None):
        """submit() then wait(): returns the Result or raises."""
        job = self.submit(service, inputs=inputs, params=params, timeout=timeout,
                          idempotency_key=idempotency_key, tenant=tenant, datasets=datasets, after=after)
        return self.wait(job, on_progress=on_progress)

    def cancel(self, job):
        """Cancel a queued or running job.  Returns True when the broker
        cancelled it, False when it had already finished (its outcome stays
        for wait()).  Raises NotFound for an unknown job."""
        wire.check_id(job, "job")
        if job in self._outcomes:
            return False
        tenant = self._job_tenant.get(job, self.tenant)
        self._asking[job] += 1
        try:
            req = self._send({"t": wire.CANCEL, "job": job, "tenant": tenant})
            try:
                if not self._await(lambda: job in self._outcomes or self._expect[req] is not None,
                                   self.connect_timeout):
                    raise BrokerUnreachable(self.endpoint, self.connect_timeout, "answer to cancel")
                m = self._outcomes.get(job) or self._expect[req]
            finally:
                self._expect.pop(req, None)
        finally:
            self._asking[job] -= 1
            if self._asking[job] <= 0:
                del self._asking[job]
        if m.type == wire.FAILED and m.get("code") == -8 and m.req == req \
                and m.get("reason", "").startswith("no such job"):
            self._outcomes.pop(job, None)  # an answer to the cancel, not the job's outcome
            self._raise_failure(m, job)
        if job in self._outcomes:
            # The outcome stays for wait(): Cancelled, or what the job did.
            return m.type == wire.FAILED and m.get("code") == -6
        self._raise_failure(m, job)

    # ---- queries ----

    def _reply_body(self, msg):
        """The one body of a `reply`, or the failure raised."""
        if msg.type in (wire.FAILED, wire.ERROR):
            self._raise_failure(msg)
        if msg.type != wire.REPLY or len(msg.bodies) != 1:
            raise ProtocolError("expected a reply with one body, got %s with %d bodies"
                                % (wire.TYPE_NAMES.get(msg.type, "?"), len(msg.bodies)))
        return msg.bodies[0]

    def _reply_json(self, msg):
        try:
            return json.loads(self._reply_body(msg).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError("reply is not JSON: %s" % e) from None

    def _query(self, header, what):
        return self._reply_json(self._request(header, (), what))

    def watch(self, events=None, tenant=None, seconds=None):
        """Job events from the broker's events endpoint (broker --events),
        as dicts {event, job, service, tenant, attempt, node, reason}: a
        generator that stops after `seconds` (None: forever).  Events are
        advisory; a key sees only its tenants' events."""
        events = events or os.environ.get("SAMSKAP_EVENTS") or "tcp://127.0.0.1:5572"
        topic = (wire.check_id(tenant, "tenant") + "/").encode("utf-8") if tenant else b""
        sub = self._ctx.socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.LINGER, 0)
            if self._curve[0] is not None:
                sub.setsockopt(zmq.CURVE_SERVERKEY, _z85_or_raw(self._curve[0], "curve_server_key"))
                sub.setsockopt(zmq.CURVE_PUBLICKEY, _z85_or_raw(self._curve[1], "curve_public_key"))
                sub.setsockopt(zmq.CURVE_SECRETKEY, _z85_or_raw(self._curve[2], "curve_secret_key"))
            sub.setsockopt(zmq.SUBSCRIBE, topic)
            sub.connect(events)
            end = None if seconds is None else time.monotonic() + seconds
            while end is None or time.monotonic() < end:
                left = 200 if end is None else max(0, min(200, int((end - time.monotonic()) * 1000)))
                if not sub.poll(left):
                    continue
                frames = sub.recv_multipart()
                try:
                    msg = wire.decode(frames[1:])
                except ProtocolError:
                    continue
                h = msg.header
                yield {"event": h.get("text", ""), "job": h.get("job", ""), "service": h.get("svc", ""),
                       "tenant": h.get("tenant", ""), "attempt": h.get("attempt", 0), "node": h.get("node", ""),
                       "reason": h.get("reason", "")}
        finally:
            sub.close(0)

    def status(self):
        """The broker's status (dict): nodes, services, counters, queued_bytes, jobs_known."""
        return self._query({"t": wire.STATUS}, "answer to status")

    def jobs(self, tenant=None):
        """Queued and running jobs: a list of dicts {job, service, tenant,
        state, attempt, node, age_s}; tenant filters (default: all)."""
        header = {"t": wire.JOBS}
        if tenant is not None:
            header["tenant"] = wire.check_id(tenant, "tenant")
        reply = self._query(header, "answer to jobs")
        if not isinstance(reply, dict) or not isinstance(reply.get("jobs"), list):
            raise ProtocolError("jobs reply has no 'jobs' list")
        return reply["jobs"]

    # ---- datasets ----

    def upload(self, data, name=None, tenant=None, chunk=UPLOAD_CHUNK):
        """Store a file (a path) or bytes at the broker as a dataset of the
        tenant; returns its name "sha256:<hex>" (the SHA-256 of the whole
        content) as a Dataset, a str that also tells what the upload did.

        An empty chunk goes first: a dataset the broker already holds costs
        one round trip and sends no bytes.  An upload that stopped part way
        resumes where the broker's stored part ends.  Then data_put chunks
        of `chunk` bytes (1024 .. 64 MiB - 64 KiB) go one at a time, each
        answered before the next; a broker whose --max-frame is smaller says
        so (in its answer's `capacity`) and the chunks shrink to fit.

        name    a name for people, shown by datasets() and `samskap dataset list`
        tenant  overrides the client's tenant

        Raises OSError (FileNotFoundError...) for a file it cannot read and
        ValueError/TypeError for bad arguments, before anything is sent;
        UploadError (a JobError: code, reason, file, hash, offset) when the
        broker refuses a chunk (Unsupported without --data-dir);
        BrokerUnreachable when it does not answer.
        """
        tenant = self._tenant(tenant)
        if name is not None and name != "":
            wire.check_id(name, "dataset name")
        else:
            name = None
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not CHUNK_MIN <= chunk <= CHUNK_MAX:
            raise ValueError("chunk must be an int in %d..%d (bytes), not %r" % (CHUNK_MIN, CHUNK_MAX, chunk))
        if isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            with open(path, "rb") as f:
                if not os.path.isfile(path):
                    # A pipe or device: read it once, it cannot be read again.
                    return self._upload(f.read(), path, name, tenant, chunk)
                return self._upload(f, path, name, tenant, chunk)
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
            return self._upload(data, name or "<%d bytes>" % len(data), name, tenant, chunk)
        raise TypeError("upload takes a path or bytes, not %s" % type(data).__name__)

    def _upload(self, src, label, name, tenant, chunk):
        """src: bytes, or a file open for reading (hashed first, then read
        again chunk by chunk, so a large file is never held in memory)."""
        digest = hashlib.sha256()
        if isinstance(src, bytes):
            size = len(src)
            digest.update(src)

            def read(off, n):
                return src[off:off + n]
        else:
            size = 0
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                size += len(block)

            def read(off, n):
                src.seek(off)
                return src.read(n)
        if size > wire.DATASET_MAX:
            raise ValueError("%s is %d bytes; the broker stores datasets of at most %d bytes"
                             % (label, size, wire.DATASET_MAX))
        ref = "sha256:" + digest.hexdigest()
        off, sent, probe, held, resumed = 0, 0, True, False, 0
        while True:
            n = 0 if probe else min(chunk, size - off)
            body = read(off, n) if n else b""
            if len(body) != n:
                raise OSError("%s changed while it was uploaded (%d bytes at offset %d, expected %d)"
                              % (label, len(body), off, n))
            header = {"t": wire.DATA_PUT, "tenant": tenant, "text": ref, "offset": off, "total": size,
                      "bodies": ["chunk"]}
            if name is not None:
                header["name"] = name
            msg = self._request(header, [body], "answer to a dataset chunk")
            limit = msg.get("capacity", 0)   # the broker's --max-frame: the largest chunk it takes
            if msg.type == wire.ERROR and msg.get("code") == -5 and 0 < limit < chunk:
                chunk = limit    # too large for this broker: the same chunk again, smaller
                continue
            sent += n
            if isinstance(limit, int) and 0 < limit < chunk:
                chunk = limit
            if msg.type != wire.REPLY:
                stored = msg.get("offset", 0)
                if probe and msg.type == wire.ERROR and 0 < stored <= size:
                    # An earlier upload stopped there: go on from it.
                    off = resumed = stored
                    probe = False
                    continue
                raise UploadError(msg.get("code", -4) or -4, msg.get("reason", ""), label, ref, stored, size)
            complete = msg.get("code", 0) == 1
            held = complete and probe
            probe = False
            off = msg.get("offset", 0)
            if complete:
                break
            if not 0 <= off < size:
                raise ProtocolError("data_put reply: offset %d for a dataset of %d bytes" % (off, size))
        return Dataset(ref, size=size, sent=sent, held=held, resumed_at=resumed, tenant=tenant, name=name)

    def datasets(self, tenant=None):
        """The tenant's stored datasets (data_list): a list of dicts
        {hash, size, created_ms, last_used_ms, name}."""
        reply = self._query({"t": wire.DATA_LIST, "tenant": self._tenant(tenant)}, "answer to data_list")
        if not isinstance(reply, dict) or not isinstance(reply.get("datasets"), list):
            raise ProtocolError("data_list reply has no 'datasets' list")
        return reply["datasets"]

    # ---- indicator history ----

    def history(self, since=None, tenant=None):
        """The tenant's indicator history (history_get) from the date
        `since` on ("YYYY-MM-DD" or a datetime.date; None: all of it): a
        list of dicts, one per value, with the columns of HISTORY_COLUMNS
        (date, scenario, indicator, area, name, variant, value, band and
        the provenance: job, plugin, plugin_hash, simulation, kernel,
        inputs).  `value` is a float, or None where the run had none."""
        tenant = self._tenant(tenant)
        if since is None:
            text = ""
        elif isinstance(since, datetime.datetime):
            text = since.date().isoformat()
        elif isinstance(since, datetime.date):
            text = since.isoformat()
        elif isinstance(since, str):
            m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", since)
            try:
                if m is None:
                    raise ValueError
                datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise ValueError("since must be a date YYYY-MM-DD, not %r" % since) from None
            text = since
        else:
            raise TypeError("since must be a str YYYY-MM-DD or a datetime.date, not %s" % type(since).__name__)
        msg = self._request({"t": wire.HISTORY_GET, "tenant": tenant, "text": text}, (),
                            "answer to history_get")
        return parse_history(self._reply_body(msg))


class Dataset(str):
    """A stored dataset's name, "sha256:<hex>", as Client.upload returns
    it: a str (pass it in submit's `datasets`) that also says what the
    upload did.

    size        bytes of the dataset
    sent        bytes this upload sent (0 when the broker held it already)
    held        True when the broker held the whole dataset already
    resumed_at  the offset an interrupted earlier upload was resumed from (0: none)
    tenant, name
    """

    def __new__(cls, ref, size=0, sent=0, held=False, resumed_at=0, tenant=None, name=None):
        self = super().__new__(cls, ref)
        self.size = size
        self.sent = sent
        self.held = held
        self.resumed_at = resumed_at
        self.tenant = tenant
        self.name = name
        return self


def parse_history(data):
    """Rows of a history_get reply or of `samskap indicators --csv` (CSV
    with a header line, numbers in the C locale; bytes or str) as dicts;
    ProtocolError for anything else."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("history: not UTF-8 (%s)" % e) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise ProtocolError("history: bad CSV (%s)" % e) from None
    if not rows:
        raise ProtocolError("history: no header line")
    head = rows[0]
    missing = [c for c in HISTORY_COLUMNS if c not in head]
    if missing or len(set(head)) != len(head):
        raise ProtocolError("history: header %r lacks column '%s' or repeats one"
                            % (head, missing[0] if missing else ""))
    out = []
    for line, fields in enumerate(rows[1:], 2):
        if len(fields) != len(head):
            raise ProtocolError("history: line %d has %d fields, the header %d" % (line, len(fields), len(head)))
        row = dict(zip(head, fields))
        v = row["value"]
        if v == "":
            row["value"] = None
        elif _C_NUMBER.match(v):
            row["value"] = float(v)
        else:
            raise ProtocolError("history: line %d: value %r is not a number" % (line, v))
        out.append(row)
    return out

"""A blocking client for the samskap broker (the Python twin of
bus/sk_client.c and the `samskap submit/wait/cancel/services/jobs` commands).

One Client owns one ZeroMQ DEALER socket with a fixed random routing id
``c-<24 hex>``, so the broker can reach it again after either side
reconnects.  It is not thread-safe: use one Client per thread.
"""

import binascii
import collections
import json
import os
import time

import zmq

from . import wire
from .errors import (BrokerUnreachable, ProtocolError, ResultError,
                     WaitTimeout, job_error)
from .result import decode_result

DEFAULT_BROKER = "tcp://127.0.0.1:5570"
SEEN_WINDOW = 65536      # outcomes de-duplicated over the last 65,536 jobs (as the C client)
KEPT_OUTCOMES = 1024     # outcomes received but not yet asked for by wait()
DEADLINE_SLACK_S = 5.0   # wait() past a job's deadline, as the CLI does


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
            if req in self._expect and self._expect[req] is None:
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

    def _request(self, header, bodies=(), what="answer"):
        """Send a request and wait connect_timeout for the reply carrying its req."""
        req = self._send(header, bodies)
        try:
            if not self._await(lambda: self._expect[req] is not None, self.connect_timeout):
                raise BrokerUnreachable(self.endpoint, self.connect_timeout, what)
            return self._expect[req]
        finally:
            self._expect.pop(req, None)

    @staticmethod
    def _raise_failure(msg, job=None):
        raise job_error(msg.get("code", -4) or -4, msg.get("reason", ""), msg.job or job)

    # ---- jobs ----

    def submit(self, service, inputs=None, params=None, timeout=None, idempotency_key=None, tenant=None):
        """Submit a job; returns its id once the broker has accepted it.

        inputs           {name: bytes | path}: body frames, in order (a str or
                         os.PathLike value is a file to read)
        params           {name: str | int | float | bool}
        timeout          seconds: the job's deadline (deadline_ms); the broker
                         and node fail it with TimedOut when it passes
        idempotency_key  the same tenant + key returns the same job
        tenant           overrides the client's tenant for this job

        Raises BrokerUnreachable when the broker does not answer within
        connect_timeout, a JobError (Refused, LimitExceeded, InvalidInput...)
        when it refuses the job, ValueError/TypeError for bad arguments.
        """
        service = wire.check_id(service, "service")
        tenant = wire.check_id(tenant if tenant is not None else self.tenant, "tenant")
        if service == "" or tenant == "":
            raise ValueError("service and tenant must be set")
        header = {"t": wire.SUBMIT, "svc": service, "tenant": tenant}
        if idempotency_key is not None:
            header["idem"] = wire.check_id(idempotency_key, "idempotency key", wire.IDEM_MAX)
            if header["idem"] == "":
                del header["idem"]
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive (seconds)")
            header["deadline_ms"] = max(1, int(round(timeout * 1000)))
        p = wire.check_params(params)
        if p:
            header["params"] = p
        names, bodies = [], []
        for name, value in (inputs or {}).items():
            wire.check_id(name, "input name")
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
        if len(bodies) > wire.MAX_BODIES:
            raise ValueError("at most %d inputs per job" % wire.MAX_BODIES)
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

    def _outcome(self, job, msg):
        self._outcomes.pop(job, None)
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
            on_progress=None, tenant=None):
        """submit() then wait(): returns the Result or raises."""
        job = self.submit(service, inputs=inputs, params=params, timeout=timeout,
                          idempotency_key=idempotency_key, tenant=tenant)
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

    def _query(self, header, what):
        msg = self._request(header, (), what)
        if msg.type in (wire.FAILED, wire.ERROR):
            self._raise_failure(msg)
        if msg.type != wire.REPLY or len(msg.bodies) != 1:
            raise ProtocolError("expected a reply with one JSON body, got %s with %d bodies"
                                % (wire.TYPE_NAMES.get(msg.type, "?"), len(msg.bodies)))
        try:
            return json.loads(msg.bodies[0].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError("reply is not JSON: %s" % e) from None

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

#!/usr/bin/python3
"""Integration tests of the Python client (clients/python) against a real
samskap-broker and samskap-node on free loopback ports, like
tests/integration/harness.c.  Usage: test_client.py NAME (see TESTS).

Binaries come from $SAMSKAP_BUILD (set by ctest), sources from
$SAMSKAP_SOURCE (default: two folders up).  Exit 0 pass, 1 fail, 77 skip.
"""

import csv
import datetime
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SAMSKAP_SOURCE") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("SAMSKAP_BUILD") or os.path.join(SOURCE, "build")
sys.path.insert(0, os.path.join(SOURCE, "clients", "python"))

try:
    import msgpack  # noqa: F401
    import zmq  # noqa: F401
except ImportError as e:
    print("skip: the Python client needs python3-zmq and python3-msgpack (%s)" % e, file=sys.stderr)
    sys.exit(77)

import samskap  # noqa: E402

NET1 = os.path.join(SOURCE, "tests", "data", "water", "Net1")
TEST_NAME = "python"
CHILDREN = []
TEMPDIRS = []


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def expect_raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    except Exception as e:
        raise Failure("expected %s, got %s: %s" % (exc.__name__, type(e).__name__, e))
    raise Failure("expected %s, nothing was raised" % exc.__name__)


# ---- processes ----

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


LOGS = []


def sanitizer_reports():
    """Logs of this test's processes that hold a sanitizer report (the
    Sanitize build of `make check`)."""
    bad = []
    for log in LOGS:
        try:
            with open(log, errors="replace") as f:
                if any("Sanitizer" in line or "runtime error:" in line for line in f):
                    bad.append(log)
        except OSError:
            pass
    return bad


def stop_all():
    for p in CHILDREN:
        if p.poll() is None:
            p.terminate()
    for p in CHILDREN:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    del CHILDREN[:]
    for d in TEMPDIRS:
        shutil.rmtree(d, ignore_errors=True)
    del TEMPDIRS[:]


def on_alarm(sig, frame):
    sys.stderr.write("%s: test timed out (alarm); killing its processes\n" % TEST_NAME)
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
    os._exit(1)


class Cluster:
    """A broker and nodes on free loopback ports; logs in BUILD/tests/logs.
    In broker_args, EVENTS becomes a free events endpoint and DATADIR a
    fresh --data-dir (the nodes then get their own dataset caches there)."""

    def __init__(self, broker_args=(), nodes=1, jobs=2):
        fp = free_port()
        bp = free_port()
        while bp == fp:
            bp = free_port()
        self.front = "tcp://127.0.0.1:%d" % fp
        self.back = "tcp://127.0.0.1:%d" % bp
        self.logdir = os.path.join(BUILD, "tests", "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.events = "tcp://127.0.0.1:%d" % free_port()
        broker_args = [self.events if a == "EVENTS" else a for a in broker_args]
        self.tmp = None
        node_args = []
        if "DATADIR" in broker_args:
            self.tmp = tempfile.mkdtemp(prefix="sk_py_%s_" % TEST_NAME)
            TEMPDIRS.append(self.tmp)
            broker_args = [os.path.join(self.tmp, "data") if a == "DATADIR" else a for a in broker_args]
        self.broker = self._spawn(["samskap-broker", "--frontend", self.front, "--backend", self.back, "--insecure"]
                                  + list(broker_args), "broker")
        for i in range(nodes):
            if self.tmp is not None:
                node_args = ["--cache-dir", os.path.join(self.tmp, "cache-py%d" % i)]
            self._spawn(["samskap-node", "--broker", self.back, "--jobs", str(jobs), "--name", "py%d" % i]
                        + node_args, "node-py%d" % i)
        self.wait_nodes(nodes, 10.0)

    def _spawn(self, argv, what):
        exe = os.path.join(BUILD, argv[0])
        if not os.access(exe, os.X_OK):
            raise Failure("no %s in %s (set SAMSKAP_BUILD)" % (argv[0], BUILD))
        path = os.path.join(self.logdir, "python.%s.%s.log" % (TEST_NAME, what))
        LOGS.append(path)
        log = open(path, "w")
        p = subprocess.Popen([exe] + argv[1:], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        CHILDREN.append(p)
        return p

    def client(self, **kw):
        kw.setdefault("tenant", "1504")
        kw.setdefault("connect_timeout", 5.0)
        return samskap.Client(self.front, **kw)

    def wait_nodes(self, n, seconds):
        end = time.monotonic() + seconds
        with samskap.Client(self.front, connect_timeout=1.0) as c:
            while time.monotonic() < end:
                try:
                    if len(c.status().get("nodes", [])) >= n:
                        return
                except samskap.BrokerUnreachable:
                    pass
                time.sleep(0.05)
        raise Failure("%d node(s) did not join within %g s" % (n, seconds))


# ---- tests ----

def t_echo(cl):
    """diag.echo round trip: params of every type and an input come back."""
    with cl.client() as c:
        params = {"text": "Ålesund, 1504", "count": 3, "ratio": 1.5, "flag": True}
        r = c.run("diag.echo", inputs={"blob": b"\x00\x01hello", "empty": b""}, params=params)
        check(r.kernel == "diag.echo" and r.converged, "kernel/converged: %r" % r)
        p = r.table("params")
        got = dict(zip(p.ids, p.column("value")))
        check(got == {"text": "Ålesund, 1504", "count": "3", "ratio": "1.5", "flag": "true"},
              "echoed params: %r" % got)
        inp = r.table("inputs")
        check(list(inp.ids) == ["blob", "empty"], "input names: %r" % list(inp.ids))
        check(inp.column("bytes").tolist() == [7, 0] and inp.column("bytes").unit == "B",
              "input sizes: %r" % inp.column("bytes"))
        check(r.meta.get("service") == "diag.echo", "meta: %r" % r.meta)
        d = r.to_dict()
        check(d["tables"]["params"]["columns"]["value"][1] == "3" and d["job"] == r.job, "to_dict: %r" % d)
        check(r.job and r.job.startswith("j-"), "job id %r" % r.job)
        check(c.id.startswith("c-") and len(c.id) == 26, "routing id %r" % c.id)


def t_water(cl):
    """sim.water over the bus: columns match the EPANET reference for Net1."""
    ref = {}
    with open(os.path.join(NET1, "ref_nodes_all.csv")) as f:
        for row in csv.DictReader(f):
            ref[(int(row["time_s"]), row["node_id"])] = float(row["pressure"])
    with cl.client() as c:
        r = c.run("sim.water", inputs={"network": os.path.join(NET1, "network.inp")}, timeout=60)
    check(r.converged, "water did not converge")
    nodes = r.table("nodes")
    pres = nodes.column("pressure")
    check(pres.dtype == "f64" and pres.unit == "psi", "pressure column: %r" % pres)
    check(nodes.n == 11 and len(nodes.periods) == 25 and len(pres) == 11 * 25,
          "shape: n=%d periods=%d len=%d" % (nodes.n, len(nodes.periods), len(pres)))
    check(list(nodes.periods[:3]) == [0, 3600, 7200], "periods: %r" % list(nodes.periods[:3]))
    compared = 0
    for p, t in enumerate(nodes.periods):
        sl = nodes.at("pressure", p)
        for i, nid in enumerate(nodes.ids):
            if (t, nid) in ref:
                want = ref[(t, nid)]
                check(abs(sl[i] - want) <= 1e-3 * max(1.0, abs(want)),
                      "pressure at t=%d node %s: %r, reference %r" % (t, nid, sl[i], want))
                compared += 1
    check(compared == len(ref) and compared >= 250, "compared %d of %d reference values" % (compared, len(ref)))
    el = nodes.column("elevation")
    check(el.static and len(el) == 11, "static column: %r" % el)
    check(nodes.column("type")[0] == "JUNCTION", "str column: %r" % nodes.column("type").tolist())
    e = expect_raises(KeyError, nodes.column, "no_such")
    check("pressure" in str(e), "KeyError names the columns: %s" % e)


def t_progress(cl):
    """diag.sleep reports progress to the callback, in order, ending at 1."""
    seen = []
    with cl.client() as c:
        r = c.run("diag.sleep", params={"ms": 700}, on_progress=lambda j, f, t: seen.append((j, f, t)))
        check(r.meta.get("slept_ms") == 700, "meta: %r" % r.meta)
        fr = [f for _, f, _ in seen]
        check(len(seen) >= 3, "progress calls: %r" % seen)
        check(all(j == r.job for j, _, _ in seen), "progress job ids: %r" % seen)
        check(all(a <= b for a, b in zip(fr, fr[1:])), "progress goes backwards: %r" % fr)
        # run() sends WAIT, so the broker sends each update to us as the
        # submitter and as a waiter: the callback sees each once.
        check(all(a != b for a, b in zip(seen, seen[1:])), "an update reached the callback twice: %r" % seen)
        check(fr[-1] == 1.0 and 0 < fr[0] < 0.5, "progress range: %r" % fr)
        check("of 700 ms" in seen[-1][2], "progress text: %r" % seen[-1][2])
        # A client-wide callback works for jobs waited without one.
        seen2 = []
        c.on_progress = lambda j, f, t: seen2.append(f)
        c.run("diag.sleep", params={"ms": 300})
        check(len(seen2) >= 2, "client-wide progress: %r" % seen2)


def t_cancel(cl):
    """Cancel a running job: cancel() says so, wait() raises Cancelled at once."""
    with cl.client() as c:
        job = c.submit("diag.sleep", params={"ms": 30000})
        end = time.monotonic() + 5
        while time.monotonic() < end and not any(j["job"] == job and j["state"] == "running" for j in c.jobs()):
            time.sleep(0.05)
        check(any(j["job"] == job for j in c.jobs(tenant="1504")), "job not listed as running")
        check(not any(j["job"] == job for j in c.jobs(tenant="9999")), "tenant filter of jobs")
        t0 = time.monotonic()
        check(c.cancel(job) is True, "cancel() did not report a cancel")
        e = expect_raises(samskap.Cancelled, c.wait, job)
        check(time.monotonic() - t0 < 3, "cancel took %.1f s" % (time.monotonic() - t0))
        check(e.code == -6 and e.code_name == "cancelled" and e.job == job, "error: %r %s" % (e, e))
        # A second client waiting on it hears the same outcome from the broker.
        with cl.client() as c2:
            e2 = expect_raises(samskap.Cancelled, c2.wait, job)
            check(e2.reason == e.reason, "reasons differ: %r %r" % (e2.reason, e.reason))
        # Cancelling a finished job returns False; its result stays readable.
        j2 = c.submit("diag.echo", params={"k": 1})
        time.sleep(0.3)
        check(c.cancel(j2) is False, "cancel of a finished job")
        check(c.wait(j2).kernel == "diag.echo", "result after a late cancel")
        e3 = expect_raises(samskap.NotFound, c.cancel, "j-00000000-999999")
        check(e3.code_name == "not found" and "no such job" in e3.reason, "unknown job: %s" % e3)
        st = c.status()
        check(st["counters"]["cancelled"] >= 1, "status counters: %r" % st["counters"])


def t_deadline(cl):
    """A job past its deadline fails with TimedOut; a local wait timeout
    raises WaitTimeout and the job can still be waited for."""
    with cl.client() as c:
        t0 = time.monotonic()
        job = c.submit("diag.sleep", params={"ms": 20000}, timeout=0.5)
        e = expect_raises(samskap.TimedOut, c.wait, job)
        took = time.monotonic() - t0
        check(e.code == -7 and e.code_name == "timed out" and e.job == job, "error: %s" % e)
        check(isinstance(e, TimeoutError), "TimedOut is a TimeoutError")
        check(0.4 <= took < 4.0, "deadline of 0.5 s took %.2f s" % took)
        job = c.submit("diag.sleep", params={"ms": 1500})
        t0 = time.monotonic()
        w = expect_raises(samskap.WaitTimeout, c.wait, job, timeout=0.3)
        check(0.25 <= time.monotonic() - t0 < 2.0 and w.job == job, "local timeout: %s" % w)
        r = c.wait(job, timeout=10)
        check(r.meta.get("slept_ms") == 1500, "result after a local timeout: %r" % r.meta)


def t_idempotency(cl):
    """The same tenant + key returns the same job (also from another client,
    and after it finished); another tenant gets its own job."""
    key = "py-idem-%d" % os.getpid()
    with cl.client() as c:
        j1 = c.submit("diag.sleep", params={"ms": 300}, idempotency_key=key)
        j2 = c.submit("diag.sleep", params={"ms": 300}, idempotency_key=key)
        check(j1 == j2, "same key, two jobs: %s %s" % (j1, j2))
        r = c.wait(j1)
        check(r.meta.get("slept_ms") == 300, "result: %r" % r.meta)
        # The same client retrying after it took the outcome in.
        check(c.submit("diag.sleep", params={"ms": 300}, idempotency_key=key) == j1, "retry, same client")
        check(c.wait(j1, timeout=5).raw == r.raw, "retry's result")
        with cl.client() as c2:
            j3 = c2.submit("diag.sleep", params={"ms": 300}, idempotency_key=key)
            check(j3 == j1, "after it finished, from another client: %s vs %s" % (j3, j1))
            check(c2.wait(j3).meta.get("slept_ms") == 300, "duplicate's result")
        with cl.client(tenant="1507") as c3:
            j4 = c3.submit("diag.sleep", params={"ms": 10}, idempotency_key=key)
            check(j4 != j1, "another tenant got the same job")
            c3.wait(j4)
        st = c.status()
        check(st["counters"]["submitted"] == 2, "broker counted %r submits" % st["counters"]["submitted"])


def t_unknown_service(cl):
    """A service no node offers fails with NotFound and the broker's reason."""
    with cl.client() as c:
        t0 = time.monotonic()
        e = expect_raises(samskap.NotFound, c.run, "no.such.service", params={"a": 1})
        check(e.code == -8 and e.code_name == "not found", "code: %s" % e)
        check("no node offers service 'no.such.service'" in e.reason, "reason: %r" % e.reason)
        check(e.job and e.job.startswith("j-"), "job id on the error: %r" % e.job)
        check(time.monotonic() - t0 < 4, "took %.1f s with --no-service-wait-ms 300" % (time.monotonic() - t0))
        e2 = expect_raises(samskap.NotFound, c.wait, "j-00000000-424242")
        check("no such job" in e2.reason, "wait for an unknown job: %s" % e2)


def t_dedup(cl):
    """Each outcome is taken in once (as the C client does): a job's outcome
    that reaches the client twice (as submitter, and again in answer to a
    WAIT sent after the job finished) is kept once; waiting again asks the
    broker and gets the same result."""
    with cl.client() as c:
        job = c.submit("diag.sleep", params={"ms": 100})
        time.sleep(0.8)           # it finishes; its outcome waits, unread, in the socket
        r1 = c.wait(job)          # takes that one; the broker sends the WAIT copy too
        end = time.monotonic() + 0.7
        while time.monotonic() < end:
            c._pump(end - time.monotonic())
        check(job not in c._outcomes, "the second copy of an outcome was kept")
        r2 = c.wait(job, timeout=5)
        check(r2.raw == r1.raw and r2.job == job, "second wait returned another result")
        # Submitter and waiter at once: two copies while waiting, one result.
        job = c.submit("diag.sleep", params={"ms": 300})
        c.wait(job)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            c._pump(end - time.monotonic())
        check(job not in c._outcomes, "a duplicate outcome was kept")
        # Outcomes nobody asked for yet are kept up to a bound; the ones
        # dropped are fetched from the broker again by wait().
        import samskap.client as sc
        saved, sc.KEPT_OUTCOMES = sc.KEPT_OUTCOMES, 2
        try:
            jobs = [c.submit("diag.echo", params={"i": i}) for i in range(5)]
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                c._pump(end - time.monotonic())
            check(len(c._outcomes) == 2, "kept %d outcomes, bound 2" % len(c._outcomes))
            for i, j in enumerate(jobs):
                got = c.wait(j, timeout=5).table("params").column("value").tolist()
                check(got == [str(i)], "job %d after eviction: %r" % (i, got))
        finally:
            sc.KEPT_OUTCOMES = saved


def t_unreachable(cl):
    """No broker: submit raises BrokerUnreachable within the connect timeout."""
    port = free_port()
    with samskap.Client("tcp://127.0.0.1:%d" % port, tenant="1504", connect_timeout=0.5) as c:
        t0 = time.monotonic()
        e = expect_raises(samskap.BrokerUnreachable, c.submit, "diag.echo")
        check(0.4 <= time.monotonic() - t0 < 2.0, "took %.2f s" % (time.monotonic() - t0))
        check("127.0.0.1:%d" % port in str(e) and "0.5 s" in str(e), "message: %s" % e)
        expect_raises(samskap.BrokerUnreachable, c.status)
    # Argument checks happen before anything is sent.
    with samskap.Client("tcp://127.0.0.1:%d" % port, tenant="1504", connect_timeout=0.2) as c:
        expect_raises(ValueError, c.submit, "x" * 64)
        expect_raises(TypeError, c.submit, "diag.echo", params={"a": [1]})
        expect_raises(TypeError, c.submit, "diag.echo", inputs={"a": 42})
        expect_raises(ValueError, c.submit, "diag.echo", inputs={"n%d" % i: b"" for i in range(17)})
        expect_raises(FileNotFoundError, c.submit, "diag.echo", inputs={"a": "/nonexistent/file.inp"})
    expect_raises(ValueError, samskap.Client, "tcp://127.0.0.1:1", curve_server_key="x" * 40)
    # CURVE options reach the socket (not tried against today's broker,
    # which has no CURVE; issue 7).
    if zmq.has("curve"):
        spub, _ = zmq.curve_keypair()
        cpub, csec = zmq.curve_keypair()
        with samskap.Client("tcp://127.0.0.1:%d" % port, curve_server_key=spub.decode(),
                            curve_public_key=cpub, curve_secret_key=csec) as c:
            # (pyzmq 24 cannot read the keys back: check the mechanism.)
            check(c._sock.getsockopt(zmq.MECHANISM) == zmq.CURVE, "CURVE keys not set on the socket")
        with samskap.Client("tcp://127.0.0.1:%d" % port) as c:
            check(c._sock.getsockopt(zmq.MECHANISM) == zmq.NULL, "mechanism without keys")
        expect_raises(ValueError, samskap.Client, "tcp://127.0.0.1:1", curve_server_key=spub,
                      curve_public_key=b"short", curve_secret_key=csec)


def _result(tables, **top):
    r = {"schema": 1, "kernel": "k", "kernel_version": "1", "input_hash": "", "converged": True,
         "iterations": 2, "tolerance": 0.5, "meta": {"a": 1, "v": [1.5, 2.5]}, "tables": tables}
    r.update(top)
    return msgpack.packb(r, use_bin_type=True)


def _table(**over):
    t = {"name": "nodes", "kind": "node", "id_name": "node_id", "ids_in_csv": True, "n": 2,
         "ids": ["a", "b"], "ids_dtype": "str", "periods": struct.pack("<2q", 0, 3600),
         "columns": [{"name": "p", "unit": "m", "dtype": "f64", "static": False, "len": 4,
                      "data": struct.pack("<4d", 1.0, 2.0, 3.0, -4.5)},
                     {"name": "k", "unit": "", "dtype": "i32", "static": True, "len": 2,
                      "data": struct.pack("<2i", 7, -8)}]}
    t.update(over)
    return t


def t_decode(cl):
    """decode_result: a valid hand-made result, then malformed bytes, each
    refused with ResultError naming what is wrong (no broker needed)."""
    d = samskap.decode_result
    r = d(_result([_table()]))
    t = r.table("nodes")
    check(t.column("p").tolist() == [1.0, 2.0, 3.0, -4.5] and t.at("p", 1).tolist() == [3.0, -4.5],
          "f64 column: %r" % t.column("p").tolist())
    check(t.column("k").tolist() == [7, -8] and list(t.periods) == [0, 3600], "i32 / periods")
    check(r.meta == {"a": 1, "v": [1.5, 2.5]} and r.iterations == 2, "meta: %r" % r.meta)
    ri = d(_result([_table(ids=struct.pack("<2q", 10, 1 << 40), periods=None,
                           columns=[{"name": "x", "unit": "", "dtype": "i64", "static": False, "len": 2,
                                     "data": struct.pack("<2q", -1, 1 << 50)}])]))
    check(list(ri.table("nodes").ids) == [10, 1 << 40] and ri.table("nodes").column("x").tolist() == [-1, 1 << 50],
          "int ids / i64 column")
    good = _result([_table()])
    bad = [
        (b"", "empty"),
        (b"\xc1", "not valid msgpack"),
        (good[:-3], "not valid msgpack"),
        (good + b"\x00", "trailing bytes"),
        (msgpack.packb([1, 2]), "not a msgpack map"),
        (_result([], schema=2), "schema 2"),
        (_result([], kernel=5), "bad 'kernel'"),
        (_result({}), "'tables' is not an array"),
        (_result([_table(n=3)]), "2 ids for n=3"),
        (_result([_table(periods=b"\x00" * 7)]), "'periods' is not a bin"),
        (_result([_table(columns=[dict(_table()["columns"][0], len=3)])]), "len 3, table has 4 rows"),
        (_result([_table(columns=[dict(_table()["columns"][0], data=b"\x00" * 31)])]), "not a bin of 32 bytes"),
        (_result([_table(columns=[dict(_table()["columns"][0], dtype="f32")])]), "bad 'dtype'"),
        (_result([_table(columns=[dict(_table()["columns"][0], dtype="str", data=["x", 1, "y", "z"])])]),
         "row 1: not a string"),
        (_result([_table(), _table()]), "appears twice"),
        (_result([_table(ids=None)]), "neither an array nor a bin"),
        (_result([_table()], meta={"a": {"b": 1}}), "unsupported type"),
    ]
    for data, words in bad:
        e = expect_raises(samskap.ResultError, d, data)
        check(words in str(e), "ResultError for %r says %r, expected %r" % (data[:16], str(e), words))
    check(issubclass(samskap.ResultError, ValueError), "ResultError is a ValueError")
    # Wire frames: signature, header round trip, another major version refused.
    from samskap import wire
    frames = wire.encode({"t": wire.SUBMIT, "svc": "diag.echo", "tenant": "1504", "req": 7,
                          "params": {"a": 1}, "bodies": ["x"]}, [b"body"])
    check(frames[0] == b"SK\x01\x00" and msgpack.unpackb(frames[1])["svc"] == "diag.echo", "encode")
    m = wire.decode(frames)
    check(m.type == wire.SUBMIT and m.req == 7 and m.bodies == [b"body"], "decode: %r" % m)
    e = expect_raises(samskap.ProtocolError, wire.decode, [b"SK\x02\x00", frames[1]])
    check("protocol version 2.0, this side speaks 1.x" in str(e), "version: %s" % e)
    expect_raises(samskap.ProtocolError, wire.decode, [b"XX\x01\x00", frames[1]])
    expect_raises(samskap.ProtocolError, wire.decode, [frames[0], msgpack.packb({"t": 99})])
    expect_raises(samskap.ProtocolError, wire.decode, [frames[0], msgpack.packb({"t": 5, "job": 3})])
    expect_raises(samskap.ProtocolError, wire.decode, frames[:2] + [b"a", b"b"])
    expect_raises(samskap.ResultError, d, "text, not bytes")


def t_example(cl):
    """examples/pipeline.py prints the minimum junction pressure per period."""
    script = os.path.join(SOURCE, "clients", "python", "examples", "pipeline.py")
    out = subprocess.run([sys.executable, script, "--broker", cl.front, "--tenant", "1504",
                          os.path.join(NET1, "network.inp")],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "exit %d: %s" % (out.returncode, out.stderr))
    lines = out.stdout.strip().splitlines()
    check(lines[0] == "time_s,min_pressure_psi,node_id" and len(lines) == 26, "output: %r" % lines[:3])
    want = {}
    with open(os.path.join(NET1, "ref_nodes_all.csv")) as f:
        for row in csv.DictReader(f):
            if row["type"] == "JUNCTION":
                t = int(row["time_s"])
                want[t] = min(want.get(t, 1e300), float(row["pressure"]))
    for line in lines[1:]:
        t, v, _ = line.split(",")
        check(abs(float(v) - want[int(t)]) <= 1e-3 * max(1.0, abs(want[int(t)])),
              "t=%s: %s, reference %r" % (t, v, want[int(t)]))
    bad = subprocess.run([sys.executable, script, "--broker", "tcp://127.0.0.1:%d" % free_port(),
                          "--connect-timeout", "0.3"], capture_output=True, text=True, timeout=30)
    check(bad.returncode == 3 and "no answer" in bad.stderr, "unreachable: %d %r" % (bad.returncode, bad.stderr))


def _read_key(path):
    keys = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                keys[k.strip()] = v.strip()
    return keys.get("public"), keys.get("secret")


def t_curve(_cl):
    """CURVE against a real broker: a listed key runs a job, an unknown key
    gets no answer, and a key may not act for another tenant."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="sk_pycurve_")
    try:
        keys = {}
        for name in ("broker", "node", "client", "stranger"):
            path = os.path.join(d, name + ".key")
            out = subprocess.run([os.path.join(BUILD, "samskap"), "keygen", name, "--out", path],
                                 capture_output=True, text=True, timeout=20)
            check(out.returncode == 0, "keygen %s: %s" % (name, out.stderr))
            keys[name] = _read_key(path)
        access = os.path.join(d, "access")
        with open(access, "w") as f:
            f.write("node node %s *\nclient client %s 1504\n" % (keys["node"][0], keys["client"][0]))
        cl = Cluster.__new__(Cluster)
        fp, bp = free_port(), free_port()
        cl.front, cl.back = "tcp://127.0.0.1:%d" % fp, "tcp://127.0.0.1:%d" % bp
        cl.logdir = os.path.join(BUILD, "tests", "logs")
        os.makedirs(cl.logdir, exist_ok=True)
        cl._spawn(["samskap-broker", "--frontend", cl.front, "--backend", cl.back,
                   "--curve-secret", os.path.join(d, "broker.key"), "--access", access], "broker")
        cl._spawn(["samskap-node", "--broker", cl.back, "--name", "pycurve",
                   "--curve-key", os.path.join(d, "node.key"), "--server-key", os.path.join(d, "broker.key.pub")],
                  "node")
        server = keys["broker"][0]

        def client(who, timeout=5.0):
            pub, sec = keys[who]
            return samskap.Client(cl.front, tenant="1504", connect_timeout=timeout, curve_server_key=server,
                                  curve_public_key=pub, curve_secret_key=sec)

        end = time.monotonic() + 20
        with client("client") as c:
            while time.monotonic() < end and not c.status().get("nodes"):
                time.sleep(0.1)
            r = c.run("diag.echo", params={"over": "curve"})
            check(dict(zip(r.table("params").ids, r.table("params").column("value"))) == {"over": "curve"},
                  "echo over CURVE: %r" % r)
            try:
                c.submit("diag.echo", tenant="1534")
                check(False, "a 1504 key submitted for 1534")
            except samskap.JobError as e:
                check("may not act for tenant '1534'" in str(e), "refusal: %s" % e)
        with client("stranger", timeout=1.5) as c:
            try:
                c.submit("diag.echo")
                check(False, "an unknown key was admitted")
            except samskap.BrokerUnreachable:
                pass
    finally:
        shutil.rmtree(d, ignore_errors=True)


def t_watch(cl):
    """watch(): the job's events (accepted, running, done) arrive for its
    tenant, and another tenant's do not."""
    import threading
    seen = []

    def collect():
        with cl.client() as w:
            for ev in w.watch(events=cl.events, tenant="1504", seconds=3.0):
                seen.append(ev)

    t = threading.Thread(target=collect)
    t.start()
    time.sleep(0.8)
    with cl.client() as c:
        r = c.run("diag.echo", params={"w": 1})
        c.run("diag.echo", params={"w": 2}, tenant="1534")
    t.join(10)
    mine = [e["event"] for e in seen if e["job"] == r.job]
    check(mine[:1] == ["accepted"] and "running" in mine and mine[-1] == "done", "events: %r" % seen)
    check(all(e["tenant"] == "1504" for e in seen), "another tenant's events: %r" % seen)


# ---- datasets, dependencies, graphs, history ----

def _bytes(n, seed):
    """n deterministic bytes that differ per seed (and per test run)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s/%d/%d" % (seed.encode(), os.getpid(), i)).digest()
        i += 1
    return bytes(out[:n])


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class SendSpy:
    """Records what a Client sends (message type, header, body sizes), or
    refuses to send anything at all (strict)."""

    def __init__(self, client, strict=False):
        self.sent = []
        self.strict = strict
        self._orig = client._send
        client._send = self

    def __call__(self, header, bodies=()):
        if self.strict:
            raise Failure("sent a %r message where the arguments should have been refused"
                          % samskap.wire.TYPE_NAMES.get(header.get("t"), "?"))
        self.sent.append((header.get("t"), dict(header), [len(b) for b in bodies]))
        return self._orig(header, bodies)

    def of_type(self, t):
        return [(h, sizes) for tt, h, sizes in self.sent if tt == t]


def _digest(result):
    t = result.table("inputs")
    return dict(zip(t.ids, zip(t.column("bytes").tolist(), t.column("sha256").tolist())))


def _at_once(fn, what):
    """fn(), which must already see a write just answered: the broker
    answers data_put and history_put after its journal commits them."""
    v = fn()
    check(v, what)
    return v


def t_upload(cl):
    """upload(): chunked data_put behind an empty probe; a job reads the
    dataset (diag.digest sees its bytes); the same bytes again send
    nothing; an interrupted upload resumes where the broker's part ends."""
    data = _bytes(300000, "upload")
    path = os.path.join(cl.tmp, "net.inp")
    with open(path, "wb") as f:
        f.write(data)
    with cl.client() as c:
        spy = SendSpy(c)
        d = c.upload(path, name="net.inp", chunk=32768)
        check(isinstance(d, str) and d == _sha(data), "upload returned %r, the content hash is %s" % (d, _sha(data)))
        check(d.size == len(data) and d.sent == len(data) and not d.held and d.resumed_at == 0,
              "upload info: size %d sent %d held %r" % (d.size, d.sent, d.held))
        puts = spy.of_type(samskap.wire.DATA_PUT)
        check(puts[0][0]["offset"] == 0 and puts[0][1] == [0],
              "the first data_put is not an empty probe: %r" % puts[:1])
        offsets = [h["offset"] for h, _ in puts[1:]]
        sizes = [s[0] for _, s in puts[1:]]
        check(len(puts) == 1 + 10 and all(s <= 32768 for s in sizes) and sum(sizes) == len(data),
              "chunks: %r" % sizes)
        check(offsets == [sum(sizes[:i]) for i in range(len(sizes))], "chunk offsets: %r" % offsets)
        check(all(h["text"] == d and h["total"] == len(data) and h["tenant"] == "1504" and h["name"] == "net.inp"
                  for h, _ in puts), "data_put headers: %r" % puts[:2])
        # A job reads it by reference: the node fetches exactly these bytes.
        r = c.run("diag.digest", datasets={"net": d}, timeout=30)
        check(_digest(r) == {"net": (len(data), d)}, "digest of the dataset input: %r" % _digest(r))
        # The same bytes again (from memory this time): one probe, no bytes.
        spy.sent.clear()
        d2 = c.upload(data)
        check(d2 == d and d2.held and d2.sent == 0, "second upload: %r held %r sent %d" % (d2, d2.held, d2.sent))
        check([(t, s) for t, _, s in spy.sent] == [(samskap.wire.DATA_PUT, [0])],
              "the second upload sent %r" % [(t, s) for t, _, s in spy.sent])
        listed = _at_once(lambda: [x for x in c.datasets() if x["hash"] == d], "dataset list lacks %s" % d)
        check(listed[0]["size"] == len(data) and listed[0]["name"] == "net.inp", "listed: %r" % listed)
        # Datasets are per tenant: another one neither lists nor uses it.
        check(all(x["hash"] != d for x in c.datasets(tenant="1507")), "tenant 1507 lists 1504's dataset")
        e = expect_raises(samskap.NotFound, c.submit, "diag.digest", datasets={"net": d}, tenant="1507")
        check("input 'net'" in e.reason and "no such dataset" in e.reason, "other tenant's use: %s" % e)
        # An upload cut short (here: its first 2048 bytes sent by hand)
        # resumes at the broker's offset.
        part = _bytes(5000, "resume")
        m = c._request({"t": samskap.wire.DATA_PUT, "tenant": "1504", "text": _sha(part), "offset": 0,
                        "total": len(part), "bodies": ["chunk"]}, [part[:2048]])
        check(m.type == samskap.wire.REPLY and m.get("offset") == 2048 and m.get("code", 0) == 0, "part: %r" % m)
        d3 = c.upload(part, chunk=1024)
        check(d3 == _sha(part) and d3.resumed_at == 2048 and d3.sent == len(part) - 2048 and not d3.held,
              "resumed upload: at %d, sent %d" % (d3.resumed_at, d3.sent))
        check(_digest(c.run("diag.digest", datasets={"p": d3}))["p"] == (len(part), d3), "resumed bytes")
        # A chunk the broker does not expect (another client of the same
        # bytes got ahead) stops the upload with an UploadError naming the
        # file and the offset; uploading again resumes there.
        other_bytes = _bytes(5000, "race")
        with cl.client() as other:
            orig = c._request
            calls = []

            def racing(header, bodies=(), what="answer", graph=False):
                msg = orig(header, bodies, what, graph)
                calls.append(header.get("offset"))
                if len(calls) == 2:  # after the probe and the first chunk
                    o = other._request({"t": samskap.wire.DATA_PUT, "tenant": "1504", "text": _sha(other_bytes),
                                        "offset": 1024, "total": 5000, "bodies": ["chunk"]},
                                       [other_bytes[1024:2048]])
                    check(o.type == samskap.wire.REPLY and o.get("offset") == 2048, "other's chunk: %r" % o)
                return msg
            c._request = racing
            try:
                e = expect_raises(samskap.UploadError, c.upload, other_bytes, name="race.bin", chunk=1024)
            finally:
                c._request = orig
        check(isinstance(e, samskap.JobError) and e.code == -1 and e.offset == 2048 and e.file == "race.bin"
              and e.hash == _sha(other_bytes), "UploadError: %r" % (e.__dict__,))
        check("race.bin" in str(e) and "offset 2048" in str(e) and "resume" in str(e), "message: %s" % e)
        d4 = c.upload(other_bytes, chunk=1024)
        check(d4.resumed_at == 2048 and d4.sent == 5000 - 2048,
              "after the UploadError: %r %d" % (d4.resumed_at, d4.sent))


def t_after(cl):
    """after={input: job}: the upstream job's result is the input (checked
    by its SHA-256); a failed or unknown upstream fails the job."""
    with cl.client() as c:
        net = c.upload(_bytes(1000, "after"))
        up = c.submit("diag.echo", params={"from": "upstream"})
        down = c.submit("diag.digest", after={"upstream": up}, datasets={"net": net})
        r = c.wait(down, timeout=30)
        raw = c.wait(up).raw
        check(_digest(r) == {"net": (1000, net), "upstream": (len(raw), _sha(raw))},
              "dependant's inputs: %r; upstream result %d bytes %s" % (_digest(r), len(raw), _sha(raw)))
        bad = c.submit("diag.sleep", params={"ms": 10, "fail": True})
        e = expect_raises(samskap.InvalidInput, c.run, "diag.echo", after={"x": bad})
        check("dependency %s failed" % bad in e.reason and "failing as asked" in e.reason, "failed upstream: %s" % e)
        e = expect_raises(samskap.NotFound, c.run, "diag.echo", after={"x": "j-00000000-4242"})
        check("no such job" in e.reason, "unknown upstream: %s" % e)


def t_graph(cl):
    """submit_graph: "@K" dependencies become the jobs' ids, each outcome is
    collected with wait(); a retried graph gets the same jobs; a refused
    graph (unknown dataset, bad "@K") creates no job."""
    with cl.client() as c:
        net = c.upload(_bytes(4000, "graph"))
        nodes = [{"service": "diag.digest", "datasets": {"net": net}},
                 {"service": "diag.digest", "after": {"upstream": "@0"}},
                 {"service": "diag.echo", "params": {"i": 2}, "after": {"a": 0, "b": "@1"}, "timeout": 30}]
        jobs = c.submit_graph(nodes)
        check(len(jobs) == 3 and len(set(jobs)) == 3 and all(j.startswith("j-") for j in jobs), "ids: %r" % jobs)
        r0, r1, r2 = (c.wait(j, timeout=30) for j in jobs)
        check(_digest(r0) == {"net": (4000, net)}, "node 0: %r" % _digest(r0))
        check(_digest(r1) == {"upstream": (len(r0.raw), _sha(r0.raw))}, "node 1 got node 0's result: %r" % _digest(r1))
        inp = r2.table("inputs")
        check(list(inp.ids) == ["a", "b"] and inp.column("bytes").tolist() == [len(r0.raw), len(r1.raw)],
              "node 2 inputs: %r %r" % (list(inp.ids), inp.column("bytes").tolist()))
        submitted = c.status()["counters"]["submitted"]
        check(submitted == 3, "submitted %d jobs for a graph of 3" % submitted)
        # Idempotency: the same key returns the same jobs, made once.
        g1 = c.submit_graph(nodes[:2], idempotency_key="py-graph")
        g2 = c.submit_graph(nodes[:2], idempotency_key="py-graph")
        check(g1 == g2 and len(set(g1 + jobs)) == 5, "retried graph: %r %r" % (g1, g2))
        check(c.wait(g1[1], timeout=30).raw == r1.raw, "retried graph's result")
        submitted = c.status()["counters"]["submitted"]
        check(submitted == 5, "submitted %d after a retried graph of 2" % submitted)
        # Refused whole: a dataset the tenant does not hold, in the last node.
        missing = "sha256:" + "0" * 64
        e = expect_raises(samskap.NotFound, c.submit_graph,
                          nodes[:2] + [{"service": "diag.echo", "datasets": {"net": missing}}])
        check("graph job 2: input 'net'" in e.reason and "no such dataset" in e.reason, "refusal: %s" % e)
        # A "@K" naming a later node, sent past the client's own check: the
        # broker refuses the graph as malformed.
        bad = [c._job_header("diag.echo"), dict(c._job_header("diag.echo"), deps=["@1=x"]),
               c._job_header("diag.echo")]
        m = c._request({"t": samskap.wire.GRAPH, "tenant": "1504", "bodies": ["graph"]},
                       [samskap.wire.encode_graph(bad)], graph=True)
        check(m.type == samskap.wire.ERROR and m.get("code") == -4 and "graph job 1: dependency '@1=x'" in
              m.get("reason", ""), "bad @K: %r" % m)
        st = c.status()
        check(st["counters"]["submitted"] == 5, "a refused graph made jobs: %r" % st["counters"])
        check(c.jobs(tenant="1504") == [], "jobs left: %r" % c.jobs(tenant="1504"))


def t_graph_order(_cl):
    """A graph's jobs may finish before its reply arrives (a journaled
    broker answers after the last commit): those outcomes are kept for
    wait() and not taken for the reply.  A fake broker sends them in that
    order; it also checks the graph body against bus/sk_graph.h."""
    import threading
    import msgpack
    from samskap import wire
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    seen = {}
    result = _result([_table()])

    def serve():
        if not router.poll(10000):
            return
        frames = router.recv_multipart()
        rid, m = frames[0], wire.decode(frames[1:])
        seen["msg"] = m
        seen["nodes"] = [msgpack.unpackb(b, raw=False) for b in msgpack.unpackb(m.bodies[0], raw=False)]
        router.send_multipart([rid] + wire.encode({"t": wire.RESULT, "job": "j-1-1", "req": m.req,
                                                    "bodies": ["result"]}, [result]))
        router.send_multipart([rid] + wire.encode({"t": wire.REPLY, "req": m.req},
                                                   [b'{"jobs":["j-1-1","j-1-2"]}']))

    t = threading.Thread(target=serve)
    t.start()
    try:
        with samskap.Client("tcp://127.0.0.1:%d" % port, tenant="1504", connect_timeout=5) as c:
            jobs = c.submit_graph([{"service": "diag.echo", "datasets": {"net": "sha256:" + "a" * 64}},
                                   {"service": "diag.digest", "after": {"up": "@0"}, "params": {"n": 1},
                                    "tenant": "1504", "timeout": 2.5}], idempotency_key="k")
            check(jobs == ["j-1-1", "j-1-2"], "ids: %r" % jobs)
            r = c.wait("j-1-1", timeout=1)
            check(r.raw == result and r.job == "j-1-1", "early outcome: %r" % r)
            check(c._deadlines.get("j-1-2") == 2.5 and c._job_tenant.get("j-1-2") == "1504", "deadline/tenant kept")
    finally:
        t.join(15)
        router.close(0)
    m = seen.get("msg")
    check(m is not None and m.type == wire.GRAPH and m.get("tenant") == "1504" and m.get("idem") == "k"
          and m.get("bodies") == ["graph"] and len(m.bodies) == 1, "graph message: %r" % m)
    check(seen["nodes"] == [{"t": 1, "svc": "diag.echo", "tenant": "1504", "datasets": ["net=sha256:" + "a" * 64]},
                            {"t": 1, "svc": "diag.digest", "tenant": "1504", "deadline_ms": 2500,
                             "params": {"n": 1}, "deps": ["@0=up"]}], "graph body: %r" % seen["nodes"])


HISTORY_REPORT = (
    "indicator,area,name,variant,value,band,error,job,plugin,plugin_hash,simulation,kernel,inputs\n"
    "water_pressure_adequacy,1504,\"Ålesund, sentrum\",before,0.1,good,,j-1-7,water_pressure_adequacy 1.0.0,"
    "sha256:%s,j-1-3,water 0.1.0,\"network=sha256:%s\"\n"
    "water_pressure_adequacy,1504,Ålesund,after,-2.5e-07,poor,,j-1-8,water_pressure_adequacy 1.0.0,"
    "sha256:%s,j-1-4,water 0.1.0,\n"
    "traffic_travel_time_index,1504,region,after,,,\"no \"\"value\"\"\",j-1-9,traffic_travel_time_index 1.0.0,"
    "sha256:%s,j-1-5,traffic 0.1.0,\n") % ("a" * 64, "b" * 64, "a" * 64, "c" * 64)


def t_history(cl):
    """history(): the rows a history_put stored (as `samskap run` puts its
    report), with numbers, quoting and provenance; `since` and the tenant
    filter them; the C CLI reads the same rows."""
    with cl.client() as c:
        m = c._request({"t": samskap.wire.HISTORY_PUT, "tenant": "1504", "text": "py scenario",
                        "bodies": ["report"]}, [HISTORY_REPORT.encode("utf-8")])
        stored = c._reply_json(m)
        check(stored.get("stored") is True, "history_put: %r" % stored)
        date = stored["date"]
        rows = _at_once(lambda: c.history(), "no history rows")
        check(len(rows) == 3, "rows: %r" % rows)
        prov = {"plugin_hash": "sha256:" + "a" * 64, "kernel": "water 0.1.0", "plugin": "water_pressure_adequacy 1.0.0"}
        want0 = dict(prov, date=date, scenario="py scenario", indicator="water_pressure_adequacy", area="1504",
                     name="Ålesund, sentrum", variant="before", value=0.1, band="good", job="j-1-7",
                     simulation="j-1-3", inputs="network=sha256:" + "b" * 64)
        check(rows[0] == want0, "row 0: %r" % rows[0])
        check(rows[1]["value"] == -2.5e-07 and rows[1]["band"] == "poor" and rows[1]["inputs"] == "",
              "row 1: %r" % rows[1])
        check(rows[2]["value"] is None and rows[2]["indicator"] == "traffic_travel_time_index"
              and rows[2]["plugin_hash"] == "sha256:" + "c" * 64, "row 2: %r" % rows[2])
        check(list(rows[0]) == list(samskap.HISTORY_COLUMNS), "columns: %r" % list(rows[0]))
        day = datetime.date.fromisoformat(date)
        check(c.history(since=date) == rows and c.history(since=day) == rows, "since the day itself")
        check(c.history(since=day + datetime.timedelta(days=1)) == [], "since the next day")
        check(c.history(tenant="1507") == [], "another tenant's history")
        out = subprocess.run([os.path.join(BUILD, "samskap"), "indicators", "--tenant", "1504", "--csv",
                              "--broker", cl.front], capture_output=True, timeout=30)
        check(out.returncode == 0, "samskap indicators: %s" % out.stderr)
        check(samskap.parse_history(out.stdout) == rows, "the CLI's rows differ: %r" % out.stdout[:300])


def t_no_data_dir(cl):
    """Without --data-dir: upload raises UploadError (Unsupported, naming the
    file), datasets() and history() raise Unsupported; `after` still works,
    the result travelling as a frame."""
    path = os.path.join(BUILD, "tests", "logs", "python.no_data_dir.%d.bin" % os.getpid())
    with open(path, "wb") as f:
        f.write(b"x" * 100)
    try:
        with cl.client() as c:
            e = expect_raises(samskap.UploadError, c.upload, path)
            check(e.code == -9 and "--data-dir" in e.reason and path in str(e) and e.offset == 0,
                  "upload: %r %s" % (e.__dict__, e))
            expect_raises(samskap.Unsupported, c.datasets)
            expect_raises(samskap.Unsupported, c.history)
            e = expect_raises(samskap.Unsupported, c.submit, "diag.digest", datasets={"n": _sha(b"x" * 100)})
            check("--data-dir" in e.reason, "submit with datasets: %s" % e)
            up = c.submit("diag.echo", params={"a": 1})
            r = c.run("diag.digest", after={"u": up}, inputs={"own": b"12345"})
            raw = c.wait(up).raw
            check(_digest(r) == {"own": (5, _sha(b"12345")), "u": (len(raw), _sha(raw))}, "inputs: %r" % _digest(r))
    finally:
        os.unlink(path)


def t_ref_args(_cl):
    """Bad datasets/after/graph/upload/history arguments raise ValueError,
    TypeError or OSError before anything is sent."""
    port = free_port()
    h = "sha256:" + "ab" * 32
    with samskap.Client("tcp://127.0.0.1:%d" % port, tenant="1504", connect_timeout=0.2) as c:
        SendSpy(c, strict=True)
        e = expect_raises(FileNotFoundError, c.upload, "/nonexistent/net.inp")
        check("/nonexistent/net.inp" in str(e), "missing file: %s" % e)
        expect_raises(IsADirectoryError, c.upload, BUILD)
        expect_raises(TypeError, c.upload, 42)
        expect_raises(ValueError, c.upload, b"abc", chunk=1000)
        expect_raises(ValueError, c.upload, b"abc", name="n" * 64)
        for bad in ("sha256:" + "AB" * 32, "sha256:abc", "md5:" + "ab" * 16, h + "0", 7):
            e = expect_raises((ValueError, TypeError), c.submit, "diag.echo", datasets={"net": bad})
            check("net" in str(e), "bad hash %r: %s" % (bad, e))
        e = expect_raises(ValueError, c.submit, "diag.echo", datasets={"n%d" % i: h for i in range(17)})
        check("at most 16 dataset inputs" in str(e), "17 datasets: %s" % e)
        e = expect_raises(ValueError, c.submit, "diag.echo", after={"n%d" % i: "j-1-%d" % i for i in range(17)})
        check("at most 16 dependencies" in str(e), "17 deps: %s" % e)
        e = expect_raises(ValueError, c.submit, "diag.echo", inputs={"i%d" % i: b"" for i in range(10)},
                          after={"n%d" % i: "j-1-%d" % i for i in range(7)})
        check("together" in str(e), "17 inputs in all: %s" % e)
        e = expect_raises(ValueError, c.run, "diag.echo", inputs={"net": b""}, datasets={"net": h})
        check("'net' is given twice" in str(e), "duplicate name: %s" % e)
        e = expect_raises(ValueError, c.submit, "diag.echo", after={"up": "@0"})
        check("submit_graph" in str(e), "@K outside a graph: %s" % e)
        expect_raises(ValueError, c.submit, "diag.echo", after={"a=b": "j-1-1"})
        expect_raises(ValueError, c.submit, "diag.echo", datasets={"": h})
        expect_raises(ValueError, c.submit, "diag.echo", after={"up": "j" * 64})
        expect_raises(ValueError, c.submit, "diag.echo", after={"up": ""})
        expect_raises(TypeError, c.submit, "diag.echo", after={"up": 3})
        expect_raises(TypeError, c.submit, "diag.echo", after=["j-1-1"])
        # Graphs.
        expect_raises(ValueError, c.submit_graph, [])
        e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo"}] * 4097)
        check("1..4096" in str(e), "4097 nodes: %s" % e)
        for dep in ("@1", "@0", 0, "@x", "@-1"):
            e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo", "after": {"up": dep}},
                                                           {"service": "diag.echo"}])
            check("graph node 0: dependency 'up'" in str(e) and "earlier node" in str(e), "@K %r: %s" % (dep, e))
        e = expect_raises(ValueError, c.submit_graph,
                          [{"service": "diag.echo"}, {"service": "diag.echo", "after": {"up": "@0"}, "tenant": "1507"}])
        check("node 0 of tenant '1504'" in str(e), "@K across tenants: %s" % e)
        e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo", "inputs": {"a": b"x"}}])
        check("graph node 0 (diag.echo): inputs must be datasets" in str(e), "inputs in a node: %s" % e)
        e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo", "deps": ["j-1=x"]}])
        check("unknown key 'deps'" in str(e), "unknown key: %s" % e)
        expect_raises(ValueError, c.submit_graph, [{"params": {}}])
        expect_raises(TypeError, c.submit_graph, ["diag.echo"])
        e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo", "params": {"big": "x" * 70000}}])
        check("graph node 0: its header is" in str(e) and "limit 65536" in str(e), "big node: %s" % e)
        e = expect_raises(ValueError, c.submit_graph, [{"service": "diag.echo"}], idempotency_key="k" * 101)
        check("at most 100" in str(e), "graph key: %s" % e)
        # History.
        for bad in ("2024-02-30", "2024-1-01", "yesterday", "2024-01-01 "):
            expect_raises(ValueError, c.history, since=bad)
        expect_raises(TypeError, c.history, since=20240101)
    # The history decoder on malformed replies.
    head = ",".join(samskap.HISTORY_COLUMNS) + "\n"
    row = "2024-01-01,s,i,a,n,v,%s,b,j,p,ph,sj,k,in\n"
    check(samskap.parse_history(head) == [], "empty history")
    check(samskap.parse_history((head + row % "inf" + row % "1E3").encode())[1]["value"] == 1000.0, "1E3")
    for data, words in ((b"", "no header"), (head.replace("value", "valu").encode(), "lacks column 'value'"),
                        ((head + row % "1,5").encode(), "fields"), ((head + row % "1_0").encode(), "not a number"),
                        ((head + row % " 1").encode(), "not a number"), (b"\xff", "not UTF-8"),
                        ((head + '2024-01-01,"s').encode(), "bad CSV")):
        e = expect_raises(samskap.ProtocolError, samskap.parse_history, data)
        check(words in str(e), "parse_history(%r): %s" % (data[:40], e))


def t_large_result(cl):
    """A result larger than the broker's frame limit comes by reference and
    is downloaded in chunks; every value arrives intact."""
    with cl.client() as c:
        job = c.submit("diag.echo", params={"pad": 300000})
        r = c.wait(job, timeout=60)
        pad = r.table("pad")
        n = (300000 + 15) // 16
        check(pad.n == n and r.meta.get("pad_bytes") == 300000, "pad rows %d, meta %r" % (pad.n, r.meta))
        x, want = 0x9e3779b97f4a7c15, []
        for _ in range(n):
            x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            v = x ^ (x >> 29)
            want.append(v - (1 << 64) if v >= 1 << 63 else v)
        check(list(pad.ids) == list(range(n)), "row ids")
        check(pad.column("value").tolist() == want, "pad values differ")
        # Collected again later: the same bytes, from the broker's store.
        again = c.wait(job, timeout=30)
        check(again.table("pad").column("value").tolist() == want, "second wait differs")
        # An upload in the default 1 MiB chunks to this broker of 64 KiB
        # frames: its answers say the limit and the chunks shrink to fit.
        blob = bytes((i * 7919) & 0xff for i in range(200000))
        ref = c.upload(blob)
        check(ref.size == 200000 and ref.sent == 200000 and not ref.held, "upload: %r" % (ref.__dict__,))
        r = c.run("diag.echo", datasets={"net": ref})
        check(r.table("inputs").column("bytes").tolist() == [200000], "dataset input: %r" % r.table("inputs"))


# name -> (function, needs a cluster, broker args)
TESTS = {
    "echo": (t_echo, True, ()),
    "water": (t_water, True, ()),
    "progress": (t_progress, True, ()),
    "cancel": (t_cancel, True, ()),
    "deadline": (t_deadline, True, ()),
    "idempotency": (t_idempotency, True, ()),
    "unknown_service": (t_unknown_service, True, ("--no-service-wait-ms", "300")),
    "dedup": (t_dedup, True, ()),
    "unreachable": (t_unreachable, False, ()),
    "decode": (t_decode, False, ()),
    "example": (t_example, True, ()),
    "curve": (t_curve, False, ()),
    "watch": (t_watch, True, ("--events", "EVENTS")),
    "upload": (t_upload, True, ("--data-dir", "DATADIR")),
    "after": (t_after, True, ("--data-dir", "DATADIR")),
    "graph": (t_graph, True, ("--data-dir", "DATADIR")),
    "graph_order": (t_graph_order, False, ()),
    "history": (t_history, True, ("--data-dir", "DATADIR")),
    "no_data_dir": (t_no_data_dir, True, ()),
    "large_result": (t_large_result, True, ("--data-dir", "DATADIR", "--max-frame", "65536")),
    "ref_args": (t_ref_args, False, ()),
}


def main():
    global TEST_NAME
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        print("usage: test_client.py {%s}" % "|".join(TESTS), file=sys.stderr)
        return 2
    TEST_NAME = sys.argv[1]
    fn, needs_cluster, broker_args = TESTS[TEST_NAME]
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(90)
    t0 = time.monotonic()
    try:
        cl = Cluster(broker_args) if needs_cluster else None
        fn(cl)
    except Failure as e:
        print("%s: FAIL: %s" % (TEST_NAME, e), file=sys.stderr)
        return 1
    except Exception as e:
        import traceback
        traceback.print_exc()
        print("%s: FAIL: %s: %s" % (TEST_NAME, type(e).__name__, e), file=sys.stderr)
        return 1
    finally:
        stop_all()
    bad = sanitizer_reports()
    if bad:
        print("%s: FAIL: sanitizer report in %s" % (TEST_NAME, ", ".join(bad)), file=sys.stderr)
        return 1
    print("%s: ok (%.2f s)" % (TEST_NAME, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

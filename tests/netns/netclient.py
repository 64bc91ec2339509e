#!/usr/bin/python3
"""netclient.py - wire-level clients for tests/netns/partition.sh.

These speak the protocol with a raw DEALER socket (samskap.wire for the
frames) on purpose: samskap.Client de-duplicates outcomes by job id, which
would hide a broker that delivers a result twice.  Here every `result` and
`failed` message that reaches the socket is counted.

    netclient.py count   --broker EP --key FILE --server-key FILE --tenant T
                         --jobs N --ms MS --stop FILE --out FILE
        Submits N diag.sleep jobs on one connection, then counts every
        outcome message by job id until FILE --stop exists; writes
        {"accepted": [...], "outcomes": {job: ["result"|"failed", ...]},
         "reasons": {job: reason}} to --out.

    netclient.py acklost --broker EP --key FILE --server-key FILE --tenant T
                         --idem KEY --ms MS --dir DIR
        The ack-lost case: connects (a status round trip proves the
        connection is up), writes DIR/connected and waits for DIR/go (the
        test then drops every packet from the broker to this host), submits
        with idempotency key KEY and expects no `accepted` (writes
        DIR/sent), waits for DIR/healed, then retries the same submit on a
        new connection (a restarted client) and waits for the outcome.
        Prints one JSON line: {"first_ack": ..., "retry_job": ..., ...}.
"""

import argparse
import binascii
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("SAMSKAP_SOURCE", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "clients", "python"))

import zmq  # noqa: E402

from samskap import wire  # noqa: E402


def read_key(path):
    """public and secret from a `samskap keygen` file (secret may be None)."""
    pub = sec = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#") or "=" not in line:
                continue
            k, v = (x.strip() for x in line.split("=", 1))
            if k == "public":
                pub = v.encode("ascii")
            elif k == "secret":
                sec = v.encode("ascii")
    if pub is None:
        raise SystemExit("%s: no public key" % path)
    return pub, sec


def connect(ctx, args):
    pub, sec = read_key(args.key)
    spub, _ = read_key(args.server_key)
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.CURVE_SERVERKEY, spub)
    s.setsockopt(zmq.CURVE_PUBLICKEY, pub)
    s.setsockopt(zmq.CURVE_SECRETKEY, sec)
    s.setsockopt(zmq.ROUTING_ID, ("c-" + binascii.hexlify(os.urandom(12)).decode()).encode())
    s.setsockopt(zmq.LINGER, 0)
    s.connect(args.broker)
    return s


def send(s, header):
    s.send_multipart(wire.encode(header))


def recv(s, timeout_s):
    """One decoded message, or None when timeout_s passes."""
    if not s.poll(int(timeout_s * 1000)):
        return None
    return wire.decode(s.recv_multipart())


def submit_header(args, req, idem=None):
    return {"t": wire.SUBMIT, "req": req, "svc": "diag.sleep", "tenant": args.tenant,
            "params": {"ms": args.ms}, "idem": idem}


def cmd_count(args):
    ctx = zmq.Context()
    s = connect(ctx, args)
    for i in range(args.jobs):
        send(s, submit_header(args, i + 1))
    accepted = {}      # req -> job
    outcomes = {}      # job -> [type names]
    reasons = {}
    while not os.path.exists(args.stop):
        m = recv(s, 0.2)
        if m is None:
            continue
        if m.type == wire.ACCEPTED:
            accepted[m.req] = m.job
        elif m.type in (wire.RESULT, wire.FAILED):
            outcomes.setdefault(m.job, []).append("result" if m.type == wire.RESULT else "failed")
            if m.type == wire.FAILED:
                reasons[m.job] = m.get("reason", "")
        elif m.type == wire.ERROR:
            reasons["error-req-%d" % m.req] = m.get("reason", "")
    # Drain what is already here when the test says stop.
    while True:
        m = recv(s, 0.5)
        if m is None:
            break
        if m.type in (wire.RESULT, wire.FAILED):
            outcomes.setdefault(m.job, []).append("result" if m.type == wire.RESULT else "failed")
    s.close(0)
    ctx.term()
    with open(args.out + ".tmp", "w") as f:
        json.dump({"accepted": [accepted[r] for r in sorted(accepted)], "outcomes": outcomes,
                   "reasons": reasons}, f)
    os.rename(args.out + ".tmp", args.out)
    return 0


def wait_file(path, timeout_s):
    end = time.monotonic() + timeout_s
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise SystemExit("netclient: %s did not appear within %d s" % (path, timeout_s))
        time.sleep(0.05)


def touch(path):
    with open(path, "w"):
        pass


def cmd_acklost(args):
    ctx = zmq.Context()
    out = {"first_ack": None, "retry_job": None, "retry_text": None, "outcome": None, "outcomes": 0}
    s = connect(ctx, args)
    send(s, {"t": wire.STATUS, "req": 1})
    m = recv(s, 20)
    if m is None or m.type != wire.REPLY:
        raise SystemExit("netclient: no status reply before the cut (%r)" % (m,))
    touch(os.path.join(args.dir, "connected"))
    wait_file(os.path.join(args.dir, "go"), 30)
    send(s, submit_header(args, 2, args.idem))
    end = time.monotonic() + args.ack_wait
    while time.monotonic() < end:
        m = recv(s, 0.2)
        if m is not None and m.type == wire.ACCEPTED:
            out["first_ack"] = m.job
    touch(os.path.join(args.dir, "sent"))
    wait_file(os.path.join(args.dir, "healed"), 60)
    s.close(0)
    # The retry: a new connection with a new routing id, the same key.
    s = connect(ctx, args)
    send(s, submit_header(args, 1, args.idem))
    end = time.monotonic() + 30
    settle = end
    while time.monotonic() < end:
        m = recv(s, 0.2)
        if m is None:
            if out["outcome"] is not None and time.monotonic() > settle:
                break
            continue
        if m.type == wire.ACCEPTED:
            out["retry_job"], out["retry_text"] = m.job, m.get("text", "")
        elif m.type in (wire.RESULT, wire.FAILED):
            out["outcomes"] += 1
            out["outcome"] = "result" if m.type == wire.RESULT else "failed: " + m.get("reason", "")
            out["outcome_job"] = m.job
            settle = time.monotonic() + 1.0   # listen a little longer for a duplicate
        elif m.type == wire.ERROR:
            out["outcome"] = "error: " + m.get("reason", "")
            break
    s.close(0)
    ctx.term()
    print(json.dumps(out))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("count", "acklost"))
    p.add_argument("--broker", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--server-key", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--ms", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--stop")
    p.add_argument("--out")
    p.add_argument("--idem")
    p.add_argument("--dir")
    p.add_argument("--ack-wait", type=float, default=4.0)
    args = p.parse_args()
    return cmd_count(args) if args.command == "count" else cmd_acklost(args)


if __name__ == "__main__":
    sys.exit(main())

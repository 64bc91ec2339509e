#!/usr/bin/python3
"""Example pipeline: run the water model of a network through the broker and
print the minimum junction pressure in each period.

    PYTHONPATH=clients/python /usr/bin/python3 clients/python/examples/pipeline.py \\
        --broker tcp://127.0.0.1:5570 --tenant 1504 tests/data/water/Net1/network.inp

Exit codes follow the CLI: 0 ok, 1 error, 3 broker unreachable, 4 timeout,
5 job failed or cancelled.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # clients/python, when run from a checkout

import samskap  # noqa: E402

DEFAULT_NETWORK = os.path.join(HERE, "..", "..", "..", "tests", "data", "water", "Net1", "network.inp")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Submit a sim.water job and print the minimum junction pressure per period.")
    ap.add_argument("network", nargs="?", default=os.path.normpath(DEFAULT_NETWORK),
                    help="EPANET .inp file (default: the bundled Net1)")
    ap.add_argument("--broker", default=samskap.default_broker(),
                    help="broker frontend (default $SAMSKAP_BROKER or tcp://127.0.0.1:5570)")
    ap.add_argument("--tenant", default=samskap.default_tenant(),
                    help="tenant the job belongs to (default $SAMSKAP_TENANT or 'default')")
    ap.add_argument("--timeout", type=float, default=None, help="job deadline in seconds")
    ap.add_argument("--connect-timeout", type=float, default=10.0,
                    help="seconds to wait for the broker to answer (default 10)")
    ap.add_argument("--all-nodes", action="store_true",
                    help="include tanks and reservoirs, not only junctions")
    args = ap.parse_args(argv)

    def progress(job, fraction, text):
        if sys.stderr.isatty():
            sys.stderr.write("\r%s %3.0f%% %s\x1b[K" % (job, 100 * fraction, text))

    try:
        with samskap.Client(args.broker, tenant=args.tenant, connect_timeout=args.connect_timeout) as c:
            job = c.submit("sim.water", inputs={"network": args.network}, timeout=args.timeout)
            print("job %s accepted" % job, file=sys.stderr)
            result = c.wait(job, on_progress=progress)
    except samskap.BrokerUnreachable as e:
        print("pipeline: %s" % e, file=sys.stderr)
        return 3
    except (samskap.TimedOut, samskap.WaitTimeout) as e:
        print("pipeline: %s" % e, file=sys.stderr)
        return 4
    except samskap.JobError as e:
        print("pipeline: %s (%s)" % (e, e.code_name), file=sys.stderr)
        return 5
    except (samskap.SamskapError, OSError, ValueError) as e:
        print("pipeline: %s" % e, file=sys.stderr)
        return 1
    if sys.stderr.isatty():
        sys.stderr.write("\n")

    nodes = result.table("nodes")
    pressure = nodes.column("pressure")
    types = nodes.column("type") if "type" in nodes.columns else None
    keep = [i for i in range(nodes.n)
            if args.all_nodes or types is None or types[i] == "JUNCTION"]
    periods = nodes.periods if len(nodes.periods) > 0 else [0]
    print("time_s,min_pressure_%s,node_id" % (pressure.unit or "value"))
    for p, t in enumerate(periods):
        values = nodes.at("pressure", p)
        i = min(keep, key=lambda k: values[k])
        print("%d,%.6g,%s" % (t, values[i], nodes.ids[i]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""samskap: a Python client for the samskap broker (docs/python.md).

    from samskap import Client
    with Client("tcp://127.0.0.1:5570", tenant="1504") as c:
        r = c.run("sim.water", inputs={"network": "tests/data/water/Net1/network.inp"})
        print(min(r.table("nodes").column("pressure")))
"""

from .client import Client, default_broker, default_tenant
from .errors import (CODE_NAMES, BrokerUnreachable, Cancelled, InvalidInput, IOFailure, JobError,
                     LimitExceeded, NotConverged, NotFound, OutOfMemory, ProtocolError,
                     ProtocolFailure, Refused, ResultError, SamskapError, TimedOut, Unsupported,
                     WaitTimeout, code_name)
from .result import Column, Result, Table, decode_result

__version__ = "0.1.0"

__all__ = [
    "Client", "default_broker", "default_tenant",
    "Result", "Table", "Column", "decode_result",
    "SamskapError", "BrokerUnreachable", "ProtocolError", "ResultError", "WaitTimeout",
    "JobError", "InvalidInput", "OutOfMemory", "IOFailure", "ProtocolFailure", "LimitExceeded",
    "Cancelled", "TimedOut", "NotFound", "Unsupported", "NotConverged", "Refused",
    "CODE_NAMES", "code_name",
]

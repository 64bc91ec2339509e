"""samskap: a Python client for the samskap broker (docs/python.md).

    from samskap import Client
    with Client("tcp://127.0.0.1:5570", tenant="1504") as c:
        r = c.run("sim.water", inputs={"network": "tests/data/water/Net1/network.inp"})
        print(min(r.table("nodes").column("pressure")))
"""

from .client import HISTORY_COLUMNS, Client, Dataset, default_broker, default_tenant, parse_history
from .errors import (CODE_NAMES, BrokerUnreachable, Cancelled, InvalidInput, IOFailure, JobError,
                     LimitExceeded, NotConverged, NotFound, OutOfMemory, ProtocolError,
                     ProtocolFailure, Refused, ResultError, SamskapError, TimedOut, Unsupported,
                     UploadError, WaitTimeout, code_name)
from .result import Column, Result, Table, decode_result

__version__ = "0.1.0"

__all__ = [
    "Client", "Dataset", "default_broker", "default_tenant", "HISTORY_COLUMNS", "parse_history",
    "Result", "Table", "Column", "decode_result",
    "SamskapError", "BrokerUnreachable", "ProtocolError", "ResultError", "WaitTimeout",
    "JobError", "InvalidInput", "OutOfMemory", "IOFailure", "ProtocolFailure", "LimitExceeded",
    "Cancelled", "TimedOut", "NotFound", "Unsupported", "NotConverged", "Refused", "UploadError",
    "CODE_NAMES", "code_name",
]

"""Exceptions raised by the samskap Python client.

Every failure the broker or a node reports carries an ``sk_errcode``
(docs/protocol.md); it is raised as a :class:`JobError` subclass whose
``code`` is that number, ``code_name`` its name (the same words as the C
``sk_strerror``: "cancelled", "timed out", "not found", ...) and ``reason``
the broker's or node's one-line explanation.
"""

# sk_errcode (bus/sk_error.h) -> name, exactly as sk_strerror spells them.
CODE_NAMES = {
    -1: "invalid input",
    -2: "out of memory",
    -3: "i/o error",
    -4: "protocol error",
    -5: "limit exceeded",
    -6: "cancelled",
    -7: "timed out",
    -8: "not found",
    -9: "unsupported",
    -10: "did not converge",
    -11: "refused",
}


def code_name(code):
    """The name of an sk_errcode, "unknown error" for any other number."""
    return CODE_NAMES.get(code, "unknown error")


class SamskapError(Exception):
    """Base class of every error this package raises."""


class BrokerUnreachable(SamskapError):
    """The broker did not answer within the client's connect timeout."""

    def __init__(self, endpoint, seconds, what="answer"):
        self.endpoint = endpoint
        self.seconds = seconds
        super().__init__(
            "no %s from the broker at %s within %g s (is samskap-broker running?)"
            % (what, endpoint, seconds))


class ProtocolError(SamskapError):
    """A message from the broker that does not follow docs/protocol.md."""


class ResultError(SamskapError, ValueError):
    """Result bytes that are not a valid schema-1 result (docs/results.md)."""


class WaitTimeout(SamskapError, TimeoutError):
    """wait() gave up locally; the job itself may still finish (wait again)."""

    def __init__(self, job, seconds):
        self.job = job
        self.seconds = seconds
        super().__init__("no outcome for job %s within %g s; it may still finish" % (job, seconds))


class JobError(SamskapError):
    """A job (or a request about one) failed: the broker's ``failed`` or
    ``error`` message.  ``job`` is None when the broker refused a submit
    before assigning an id."""

    def __init__(self, code, reason, job=None):
        self.code = int(code)
        self.code_name = code_name(self.code)
        self.reason = reason or ""
        self.job = job or None
        what = "job %s" % self.job if self.job else "request"
        super().__init__("%s %s: %s" % (what, self.code_name, self.reason or "(no reason given)"))


class InvalidInput(JobError):
    pass


class OutOfMemory(JobError):
    pass


class IOFailure(JobError):
    pass


class ProtocolFailure(JobError):
    pass


class LimitExceeded(JobError):
    pass


class Cancelled(JobError):
    pass


class TimedOut(JobError, TimeoutError):
    """The job's deadline passed (code -7, from the broker or the node)."""


class NotFound(JobError):
    pass


class Unsupported(JobError):
    pass


class NotConverged(JobError):
    pass


class Refused(JobError):
    pass


class UploadError(JobError):
    """The broker refused a dataset chunk (Client.upload).  ``file`` names
    what was being uploaded (the path, or the name given for bytes),
    ``hash`` the dataset, ``offset`` where the broker's stored part ends:
    uploading the same bytes again resumes there."""

    def __init__(self, code, reason, file, hash, offset, size):
        self.file = file
        self.hash = hash
        self.offset = int(offset)
        self.size = int(size)
        super().__init__(code, reason)
        resume = ("; upload it again to resume at offset %d" % self.offset
                  if 0 < self.offset < self.size else "")
        self.args = ("upload of %s (%s) stopped at offset %d of %d: %s: %s%s"
                     % (file, hash, self.offset, self.size, self.code_name,
                        self.reason or "(no reason given)", resume),)


_BY_CODE = {
    -1: InvalidInput, -2: OutOfMemory, -3: IOFailure, -4: ProtocolFailure,
    -5: LimitExceeded, -6: Cancelled, -7: TimedOut, -8: NotFound,
    -9: Unsupported, -10: NotConverged, -11: Refused,
}


def job_error(code, reason, job=None):
    """The JobError subclass for an sk_errcode."""
    return _BY_CODE.get(int(code), JobError)(code, reason, job)

"""Exceptions: one class per gRPC status a caller may want to handle, all LarderError.

Every error a call to a Larder service raises is a LarderError carrying the gRPC status
code and the server's own message (which names the bad field, feature or object), so
``except larder.NotFound`` and ``except larder.LarderError as e: e.code`` both work.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class LarderError(Exception):
    """A failed call to a Larder service (or a request refused before it was sent)."""

    code: grpc.StatusCode

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else _CODE_OF.get(type(self), grpc.StatusCode.UNKNOWN)

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(LarderError):
    """INVALID_ARGUMENT (and OUT_OF_RANGE): the request was wrong; the message names what."""


class NotFound(LarderError):
    """NOT_FOUND: an unknown project, feature service, view, dataset or job."""


class AlreadyExists(LarderError):
    """ALREADY_EXISTS: e.g. a destination file that may not be overwritten."""


class FailedPrecondition(LarderError):
    """FAILED_PRECONDITION: the request is valid but the store is not in a state to do it."""


class Aborted(LarderError):
    """ABORTED: a concurrent change won; retrying may succeed."""


class PermissionDenied(LarderError):
    """PERMISSION_DENIED: the caller is known but may not do this."""


class Unauthenticated(LarderError):
    """UNAUTHENTICATED: no token, or one the service does not accept."""


class ResourceExhausted(LarderError):
    """RESOURCE_EXHAUSTED: a message, quota or rate limit was exceeded."""


class Unavailable(LarderError):
    """UNAVAILABLE: the service, or a store behind it, cannot be reached. Retryable."""


class DeadlineExceeded(LarderError):
    """DEADLINE_EXCEEDED: the call's timeout passed."""


class Cancelled(LarderError):
    """CANCELLED: the call was cancelled."""


class Unimplemented(LarderError):
    """UNIMPLEMENTED: the service does not offer this rpc (an older server?)."""


class Internal(LarderError):
    """INTERNAL or UNKNOWN: a fault in the service; its logs have the details."""


class ValidationFailed(FailedPrecondition):
    """A training set or computed statistics asked for with ``validate="fail"`` break
    their views' TFDV schemas: FAILED_PRECONDITION, the message naming each column and
    anomaly. For a training set the service wrote the destination and registered no saved
    dataset; statistics are stored (unless dry_run) before the check fails."""


class RowsRejected(LarderError):
    """A push wrote some rows and refused others; ``failures`` lists each refused row."""

    def __init__(self, message: str, failures: "list[dict[str, object]]", rows_written: int) -> None:
        super().__init__(message, grpc.StatusCode.INVALID_ARGUMENT)
        self.failures = failures
        self.rows_written = rows_written


class JobFailed(LarderError):
    """A materialization job ended FAILED or CANCELLED; ``job`` is its last state."""

    def __init__(self, message: str, job: object) -> None:
        super().__init__(message, grpc.StatusCode.ABORTED)
        self.job = job


_CLASS_OF: Dict[grpc.StatusCode, Type[LarderError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNKNOWN: Internal,
    grpc.StatusCode.DATA_LOSS: Internal,
}
_CODE_OF: Dict[Type[LarderError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Aborted: grpc.StatusCode.ABORTED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Cancelled: grpc.StatusCode.CANCELLED,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    Internal: grpc.StatusCode.INTERNAL,
    ValidationFailed: grpc.StatusCode.FAILED_PRECONDITION,
}


def from_rpc_error(error: grpc.RpcError) -> LarderError:
    """The LarderError subclass for a failed gRPC call, with the server's message."""
    code_fn = getattr(error, "code", None)
    details_fn = getattr(error, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    message = (details_fn() if callable(details_fn) else None) or str(error)
    cls = _CLASS_OF.get(code, LarderError)
    return cls(message, code)

"""larder: the Python client of the Larder feature store.

    import larder
    store = larder.FeatureStore(repo_path=".")
    store.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": 1001}]).to_dict()

See clients/python/README.md for the whole API.
"""

from .config import DEFAULT_ADDRESSES, StoreConfig, TlsConfig, TokenSource, read_repo_config
from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    JobFailed,
    LarderError,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RowsRejected,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    ValidationFailed,
)
from .historical import Destination, RetrievalJob, ServerSource
from . import jobs
from .jobs import Job
from .online import OnlineResponse
from .validation import Anomaly, ValidationReport
from .store import FeatureStore, PushResult

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Anomaly",
    "Cancelled",
    "DEFAULT_ADDRESSES",
    "DeadlineExceeded",
    "Destination",
    "FailedPrecondition",
    "FeatureStore",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "LarderError",
    "NotFound",
    "OnlineResponse",
    "PermissionDenied",
    "PushResult",
    "ResourceExhausted",
    "RetrievalJob",
    "RowsRejected",
    "ServerSource",
    "StoreConfig",
    "TlsConfig",
    "TokenSource",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "ValidationFailed",
    "ValidationReport",
    "read_repo_config",
]

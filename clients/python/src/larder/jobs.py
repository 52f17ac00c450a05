"""Materialization jobs and their progress."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Optional

from ._proto.larder.materialization.v1 import materialization_service_pb2 as mat_pb2
from .errors import InvalidArgument, JobFailed

Job = mat_pb2.Job
TERMINAL = (mat_pb2.JOB_STATE_SUCCEEDED, mat_pb2.JOB_STATE_FAILED, mat_pb2.JOB_STATE_CANCELLED)


def state_name(state: int) -> str:
    return mat_pb2.JobState.Name(state).replace("JOB_STATE_", "")


def timestamp(when: dt.datetime, what: str) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    if not isinstance(when, dt.datetime):
        raise InvalidArgument(f"{what} must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None:
        raise InvalidArgument(f"{what} is a naive datetime: give a timezone (e.g. datetime.timezone.utc) so no machine's zone is assumed")
    stamp = Timestamp()
    stamp.FromDatetime(when.astimezone(dt.timezone.utc))
    return stamp


class Progress:
    """Reports job updates: a tqdm bar (views done of views, rows written) when tqdm is
    installed and progress was not turned off; nothing otherwise."""

    def __init__(self, enabled: Optional[bool]) -> None:
        self._bar: Any = None
        if enabled is False:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if enabled:
                raise InvalidArgument("progress=True needs tqdm (pip install 'larder[progress]')") from None
            return
        self._tqdm = tqdm
        self.updates = 0

    def update(self, job: Job) -> None:
        if not hasattr(self, "_tqdm"):
            return
        self.updates += 1
        done = sum(1 for v in job.views if v.state in TERMINAL)
        if self._bar is None:
            self._bar = self._tqdm(total=max(len(job.views), 1), desc=f"materialize {job.id}", unit="view")
        self._bar.n = done
        self._bar.set_postfix(state=state_name(job.state), rows=sum(v.rows_written for v in job.views), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Following:
    """Follows a job over WatchJob messages (sync or async: the store feeds them in)."""

    def __init__(self, first: Job, progress: Progress) -> None:
        self.job = first
        self._progress = progress
        progress.update(first)

    def see(self, message: Any) -> bool:
        """Takes one WatchJob message; True once the job reached a terminal state."""
        self.job = message.job
        self._progress.update(self.job)
        return self.job.state in TERMINAL

    def close(self) -> None:
        self._progress.close()


def follow(first: Job, updates: Iterable[Any], progress: Progress) -> Job:
    """The job's last state from a WatchJob stream (ends at a terminal state)."""
    following = Following(first, progress)
    try:
        for message in updates:
            if following.see(message):
                break
    finally:
        following.close()
    return following.job


def check(job: Job) -> Job:
    if job.state in (mat_pb2.JOB_STATE_FAILED, mat_pb2.JOB_STATE_CANCELLED):
        failed = [f"{v.feature_view}: {v.error}" for v in job.views if v.error]
        detail = job.error or "; ".join(failed) or "no reason given"
        raise JobFailed(f"materialization job {job.id} {state_name(job.state).lower()}: {detail}", job)
    return job

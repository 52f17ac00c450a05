"""Validation reports: what offline retrieval found when it checked statistics against
the views' TFDV schemas, for a training set as it is written (HistoricalQuery.validation)
or for statistics it computes (``compute_statistics(validate=True)``).

The checking runs in the service (the same validator as ``larder validate``); this module
only reads its answer. The messages are tensorflow.metadata's own (same names, fields and
wire format), so ``report.anomalies.SerializeToString()`` is read by
``tensorflow_metadata.proto.v0.anomalies_pb2.Anomalies.FromString`` and by TFDV.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

from ._proto.tensorflow.metadata.v0 import anomalies_pb2


class Anomaly(NamedTuple):
    """One column's (or the whole dataset's: column ``(dataset)``) anomaly."""

    column: str
    severity: str
    types: List[str]
    description: str


def _anomaly(column: str, info: Any) -> Anomaly:
    severity = anomalies_pb2.AnomalyInfo.Severity.Name(info.severity) if info.HasField("severity") else "UNKNOWN"
    types = [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason]
    return Anomaly(column, severity, types, info.description)


class ValidationReport:
    """The anomalies found (``anomalies``: TFDV's Anomalies, keyed by column: a training
    set's output column, a view's feature, or a feature service's ``view__feature``) and
    the statistics they were found in (``statistics``: TFDV's
    DatasetFeatureStatisticsList). From compute_statistics also ``record`` (the
    StatisticsRecord; its id is empty on a dry run) and ``drift_baseline_id`` (the stored
    record drift was measured against, empty when none was)."""

    def __init__(self, anomalies: Any, statistics: Any, *, record: Any = None, drift_baseline_id: str = "") -> None:
        self.anomalies = anomalies
        self.statistics = statistics
        self.record = record
        self.drift_baseline_id = drift_baseline_id

    @property
    def ok(self) -> bool:
        """True when the data keeps every schema (no anomaly at all)."""
        return not self.problems()

    def problems(self) -> List[Anomaly]:
        """Each anomaly, by column name; the dataset's own ones last."""
        found = [_anomaly(column, self.anomalies.anomaly_info[column]) for column in sorted(self.anomalies.anomaly_info)]
        if self.anomalies.HasField("dataset_anomaly_info"):
            found.append(_anomaly("(dataset)", self.anomalies.dataset_anomaly_info))
        if self.anomalies.data_missing:
            found.append(Anomaly("(dataset)", "ERROR", ["NO_DATA_IN_SPAN"], "The statistics describe no examples."))
        return found

    def by_column(self) -> Dict[str, List[str]]:
        """``{column: [anomaly type, ...]}``: the short form, for metadata and asserts."""
        return {a.column: a.types for a in self.problems()}

    def summary(self) -> str:
        """A readable table (one line per anomaly), or a line saying there is none."""
        problems = self.problems()
        if not problems:
            return "no anomalies: the data keeps its views' schemas"
        rows = [("COLUMN", "SEVERITY", "ANOMALY", "DESCRIPTION")] + [(a.column, a.severity, ", ".join(a.types), a.description) for a in problems]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"ValidationReport(ok={self.ok}, columns={sorted(self.by_column())})"


def report_of(summary: Optional[Any], requested: bool) -> Optional[ValidationReport]:
    """The report in a ResultSummary of a query that asked for validation (an empty
    Anomalies when the service sent none: nothing was found)."""
    if summary is None or not requested:
        return None
    return ValidationReport(summary.anomalies, summary.statistics)


__all__ = ["Anomaly", "ValidationReport", "report_of"]

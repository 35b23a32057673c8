"""Reports: what a run found, for a prosecutor to read and for tools to parse.

JSON follows ``schemas/report.schema.json`` (generated from :mod:`._model`); CSV carries the
same rows with the run record in ``#`` lines. Reports hold digests, paths, verdicts and the
labels of each source; never content.
"""

from hashmatch.reports._counts import count_verdicts
from hashmatch.reports._model import (
    REPORT_FORMAT,
    STATEMENT,
    Count,
    Report,
    ReportCounts,
    ReportHeader,
    ReportInput,
    ReportList,
    ReportMatch,
    ReportRow,
    ReportRun,
    ToolInfo,
    report_lists,
)
from hashmatch.reports._writers import REPORT_FORMATS, report_format, write_report

__all__ = [
    "REPORT_FORMAT",
    "REPORT_FORMATS",
    "STATEMENT",
    "Count",
    "Report",
    "ReportCounts",
    "ReportHeader",
    "ReportInput",
    "ReportList",
    "ReportMatch",
    "ReportRow",
    "ReportRun",
    "ToolInfo",
    "count_verdicts",
    "report_format",
    "report_lists",
    "write_report",
]

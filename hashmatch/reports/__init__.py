"""Reports: what a run found, for a prosecutor to read and for tools to parse.

JSON follows ``schemas/report.schema.json`` (generated from :mod:`._model`); CSV carries the
same rows with the run record in ``#`` lines. Reports hold digests, paths, verdicts and the
labels of each source; never content. A run with ``--map-to`` also shows each category as a
crosswalk suggests it, beside the source's own label, and names the crosswalks in its header.
Every report also says whether a perceptual vendor was used; when one was, its results are
a section of their own (leads for review, beside each file's exact verdict, never verdicts).
"""

from hashmatch.reports._compare import Comparison, RowDifference, compare_reports
from hashmatch.reports._counts import count_verdicts, report_mapping
from hashmatch.reports._files import iter_report_rows, read_report_header, read_report_table
from hashmatch.reports._html import CONTENT_SECURITY_POLICY
from hashmatch.reports._model import (
    MAPPING_NOTE,
    NO_PERCEPTUAL,
    NO_SCHEME,
    PERCEPTUAL_NOTE,
    PERCEPTUAL_ROWS,
    REPORT_FORMAT,
    REVIEW,
    STATEMENT,
    Count,
    Report,
    ReportCounts,
    ReportCrosswalk,
    ReportHeader,
    ReportInput,
    ReportList,
    ReportMapped,
    ReportMapping,
    ReportMatch,
    ReportPerceptual,
    ReportRow,
    ReportRun,
    ReportSimilar,
    ToolInfo,
    report_lists,
    report_perceptual,
    similar_text,
)
from hashmatch.reports._summary import (
    SUMMARY_KINDS,
    ChargingSummary,
    CountsSummary,
    charging_summary,
    counts_summary,
    render_summary,
    write_summary,
)
from hashmatch.reports._writers import REPORT_FORMATS, report_format, write_report

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAPPING_NOTE",
    "NO_PERCEPTUAL",
    "NO_SCHEME",
    "PERCEPTUAL_NOTE",
    "PERCEPTUAL_ROWS",
    "REPORT_FORMAT",
    "REPORT_FORMATS",
    "REVIEW",
    "STATEMENT",
    "SUMMARY_KINDS",
    "ChargingSummary",
    "Comparison",
    "Count",
    "CountsSummary",
    "Report",
    "ReportCounts",
    "ReportCrosswalk",
    "ReportHeader",
    "ReportInput",
    "ReportList",
    "ReportMapped",
    "ReportMapping",
    "ReportMatch",
    "ReportPerceptual",
    "ReportRow",
    "ReportRun",
    "ReportSimilar",
    "RowDifference",
    "ToolInfo",
    "charging_summary",
    "compare_reports",
    "count_verdicts",
    "counts_summary",
    "iter_report_rows",
    "read_report_header",
    "read_report_table",
    "render_summary",
    "report_format",
    "report_lists",
    "report_mapping",
    "report_perceptual",
    "similar_text",
    "write_report",
    "write_summary",
]

"""The crosswalk sensitivity report: one self-contained HTML file and a JSON with every number.

:func:`build_report` turns the results of the stages (coding coverage of a decided crosswalk,
:mod:`coder.agreement`, the axis metrics, :mod:`coder.sensitivity`) into a :class:`Report`;
:func:`write_report` writes ``report.html`` (plots embedded as base64 PNG, no network) and
``report.json``; :func:`report_file` is the file twin of ``coder report``.
"""

from .build import SECTIONS, Report, build_report, report_file, write_report

__all__ = ["SECTIONS", "Report", "build_report", "report_file", "write_report"]

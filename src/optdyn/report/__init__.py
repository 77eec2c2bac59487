"""Per-tier HTML report of reproduced figures, claims and deviations."""

from optdyn.report.html import write_report

__all__ = ["write_report"]

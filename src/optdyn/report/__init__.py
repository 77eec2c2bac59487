"""Per-tier HTML report of reproduced figures, claims, provenance and coverage.

Modules: collect (gather a tier's files), html (the page), card (one figure), claims (a
figure's claims and the counts), tables (``kind: table`` figures), bundle (files copied
beside the page), format, style, script.
"""

from optdyn.report.html import write_report

__all__ = ["write_report"]

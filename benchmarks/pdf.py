"""The 500-row 台账 PDF (``school-ledger``) against a plain WeasyPrint table of the same rows, in one run.

    python -m benchmarks.pdf [--rows 500] [--rounds 5]

Embedded mode in a temporary folder: one school with ``--rows`` hazards (benchmarks.generate, real projectors);
then, interleaved round by round, (a) ours: build the report from the read models and render it with our
template, and (b) baseline: the same cells as bare <table>s in the same font, through WeasyPrint.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def setup(folder: str) -> None:
    os.environ.pop("DATABASE_URL", None)
    os.environ["SAFETY_VAR_DIR"] = folder
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def plain_html(report: object) -> str:
    parts = [
        '<html><head><meta charset="utf-8"><style>html{font-family:"WenQuanYi Zen Hei";font-size:9pt}'
        "table{border-collapse:collapse}td,th{border:1px solid #000}</style></head><body>"
    ]
    for table in report.tables:  # type: ignore[attr-defined]
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    return "".join(parts) + "</body></html>"


def _pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def run(rows: int, rounds: int) -> dict[str, object]:
    """Both PDFs ``rounds`` times, alternating, in a temporary embedded installation."""
    with tempfile.TemporaryDirectory(prefix="safety-bench-pdf.") as folder:
        setup(folder)
        from weasyprint import HTML

        from benchmarks.generate import Generator
        from domain.policy import Actor, Role
        from projections.directory import UnitView
        from projections.eventstore import get_application, set_application
        from projections.runner import catch_up
        from reports.base import Caller
        from reports.registry import ReportQuery, load_all
        from reports.render import render_pdf

        app = get_application()
        generator = Generator(app, seed=500, now=datetime.now(UTC))
        generator.directory(schools=1)
        while generator.history.hazards < rows:
            generator.hazard()
        generator.flush()
        catch_up(app, batch_size=1000)
        school = UnitView.objects.get(kind="school")
        query = ReportQuery(
            actor=Actor("admin", Role.ADMIN),
            caller=Caller("第1区教育局", "管理员", ""),
            at=datetime.now(UTC),
            known_at=datetime.now(UTC),
            school=school,
            unit=school,
        )
        spec = load_all()["school-ledger"]
        ours: list[float] = []
        base: list[float] = []
        pages = table_rows = 0
        for _ in range(rounds):
            started = time.perf_counter()
            report = spec.build(query)
            pdf = render_pdf(report)
            ours.append(time.perf_counter() - started)
            table_rows = sum(len(t.rows) for t in report.tables)
            started = time.perf_counter()
            HTML(string=plain_html(report)).write_pdf()
            base.append(time.perf_counter() - started)
            pages = _pages(pdf)
        set_application(None)
    result: dict[str, object] = {
        "hazards": rows,
        "table_rows": table_rows,
        "pages": pages,
        "rounds": rounds,
        "ours_s": [round(t, 2) for t in ours],
        "baseline_s": [round(t, 2) for t in base],
        "ours_median_s": round(statistics.median(ours), 2),
        "baseline_median_s": round(statistics.median(base), 2),
    }
    result["ratio"] = round(statistics.median(ours) / statistics.median(base), 2)
    result["target"] = "ratio <= 1.2"
    result["met"] = statistics.median(ours) / statistics.median(base) <= 1.2
    return result


def measure(args: dict[str, object]) -> list[dict[str, object]]:
    """The harness's figure (``python -m benchmarks run``)."""
    from benchmarks.common import figure

    rows, rounds = int(args.get("rows", 500)), int(args.get("rounds", 3))  # type: ignore[call-overload]
    result = run(rows, rounds)
    ours, base = float(result["ours_median_s"]), float(result["baseline_median_s"])  # type: ignore[arg-type]
    return [
        figure(
            f"PDF: {rows}-row 台账 (school-ledger)",
            ours,
            base,
            "s",
            "ratio ≤ 1.2 vs plain WeasyPrint",
            ours / base <= 1.2,
            detail=f"{result['table_rows']} table rows, {result['pages']} pages, median of {rounds} alternating rounds",
        )
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.rows, args.rounds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pdf.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

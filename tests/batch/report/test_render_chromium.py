"""The report in a real browser (Debian's chromium via Playwright): it displays, without errors or
requests beyond its own file, and its charts are drawn. In CI a missing browser fails the test."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from batch.report.build import write_report
from batch.report.chromium import chromium_path, dump_dom, print_pdf
from tests.batch.report.test_build import full_report
from tests.support.history import history

SECTIONS = ("headline", *(f"site-{s}" for s in sorted(history().sites)), "alarms", "cameras", "expressions",
            "visits", "forecast", "drivers", "league", "quality")


def _browser() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: install Debian's chromium package (make system-packages)")
        pytest.skip("chromium is not installed here")
    return path


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _browser()  # skip (or fail in CI) before building anything
    return write_report(full_report(), tmp_path_factory.mktemp("report"))[0]


def test_report_displays_without_errors_and_its_charts_are_drawn(report_file: Path) -> None:
    executable = _browser()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report_file.as_uri(), wait_until="load")
            assert problems == []
            assert requests == [report_file.as_uri()]
            for anchor in SECTIONS:
                assert page.locator(f'section[id="{anchor}"]').is_visible(), anchor
            charts = page.locator("svg.chart")
            assert charts.count() >= 12
            for index in range(charts.count()):
                box = charts.nth(index).bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 80, index
            assert page.locator("svg.heatmap rect").count() >= 7 * 24
            assert page.locator("path.series").count() > 0 and page.locator("polygon.band").count() > 0
        finally:
            browser.close()


def test_dump_dom_and_print_to_pdf(report_file: Path, tmp_path: Path) -> None:
    _browser()
    dom = dump_dom(report_file)
    assert dom.count("<svg") >= 12 and "moodlens weekly report" in dom
    pdf = print_pdf(report_file, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf.read_bytes()))
    assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes), boxes  # A4

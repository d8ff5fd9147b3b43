"""Headless Chromium (Debian's `chromium`): print the report to PDF, or take a screenshot of it.

Nothing is fetched: the page has no external resource, and the flags switch off Chromium's own
background traffic (component updates, sync, first-run). A fresh profile directory each time.
"""

from __future__ import annotations

# bandit B404 (subprocess imported): it runs headless Chromium with a fixed argv list, never a shell.
import os
import shutil
import subprocess  # nosec B404
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("MOODLENS_CHROMIUM", "/usr/bin/chromium")
QUIET_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars")


def chromium_path() -> str | None:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium")


def _run(page: Path, *flags: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError(f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="moodlens-chromium-") as profile:
        command = [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()]
        # bandit B603: argv list (no shell) of a fixed binary, our flags and a file URI
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)  # nosec B603


def print_pdf(page: Path, pdf: Path) -> Path:
    pdf.unlink(missing_ok=True)
    result = _run(page, f"--print-to-pdf={pdf.resolve()}", "--no-pdf-header-footer")
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF (exit {result.returncode}): {result.stderr[-800:]}")
    return pdf


def screenshot(page: Path, png: Path, width: int = 1000, height: int = 2400) -> Path:
    png.unlink(missing_ok=True)
    result = _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-800:]}")
    return png


def dump_dom(page: Path) -> str:
    result = _run(page, "--dump-dom", "--virtual-time-budget=2000")
    if result.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom failed (exit {result.returncode}): {result.stderr[-800:]}")
    return result.stdout

"""The live dashboard in headless chromium: window-to-screen delay, page weight, screenshots.

    .venv/bin/python benchmarks/dashboard_page.py latency          # 40 windows, median and p95
    .venv/bin/python benchmarks/dashboard_page.py screenshots --state var/demo   # docs/img/*.png

Latency: a sentiment_window is appended to windows.jsonl and the clock runs until the page shows
its net score (the server polls the files every 0.2 s and pushes by server-sent events).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from onebox.dashboard.app import STATIC  # noqa: E402
from onebox.dashboard.server import open_dashboard  # noqa: E402
from tests.onebox.browser import ARGS, CHROMIUM  # noqa: E402
from tests.onebox.events import window  # noqa: E402


def latency(samples: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    root = Path(tempfile.mkdtemp(prefix="dashboard-"))
    (root / "stream").mkdir()
    server = open_dashboard(root, "127.0.0.1", 0, "")
    server.start()
    delays = []
    sse_bytes = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        sizes: dict[str, int] = {}
        page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())) if "/events" not in r.url else None)
        page.goto(server.url)
        expect(page.locator("#connection")).to_have_text("live", timeout=5000)
        for i in range(samples):
            net = round(-0.9 + 1.8 * i / samples, 2)
            text = f"{'+' if net >= 0 else '−'}{abs(net):.2f}"
            document = window(None, 5, net, tracks=10, end_ms=1_700_000_000_000 + i * 60_000)
            line = json.dumps(document) + "\n"
            sse_bytes = max(sse_bytes, len(line))
            started = time.monotonic()
            with (root / "stream" / "windows.jsonl").open("a") as handle:
                handle.write(line)
            expect(page.locator("#site-scores [data-minutes='5'] .v")).to_have_text(text, timeout=5000)
            delays.append(time.monotonic() - started)
        snapshot = len(page.request.get(server.url + "api/snapshot").body())
        browser.close()
    server.stop()
    delays.sort()
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    static = {p.name: p.stat().st_size for p in STATIC.iterdir()}
    print(f"window written -> shown on the page: median {statistics.median(delays) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms ({samples} windows)")
    print(f"page weight: {sum(static.values()) / 1024:.1f} KiB uncompressed "
          f"({', '.join(f'{k} {v / 1024:.1f}' for k, v in sorted(static.items()))}), no library, "
          f"loaded {sum(sizes.values()) / 1024:.1f} KiB; one update (snapshot) {snapshot / 1024:.1f} KiB")


def screenshots(state: Path, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server = open_dashboard(state, "127.0.0.1", 0, "")
    server.start()
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for name, width, height in (("dashboard.png", 1280, 1000), ("dashboard-phone.png", 390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.goto(server.url)
            expect(page.locator("#connection")).to_have_text("live", timeout=5000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / name), full_page=True)
            print(f"wrote {out / name}")
        browser.close()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("latency")
    run.add_argument("--samples", type=int, default=40)
    shots = commands.add_parser("screenshots")
    shots.add_argument("--state", type=Path, default=REPO / "var" / "demo")
    shots.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    if args.command == "latency":
        latency(args.samples)
    else:
        screenshots(args.state, args.out)


if __name__ == "__main__":
    main()

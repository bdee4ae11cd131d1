"""report.html in headless Chromium: it renders, and it shows the JSON report's numbers.

Chromium runs with networking off (and, as root, inside a network namespace with no
interfaces but loopback), so a page that needed anything from the network would show it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli.helpers import beacon, clean_env

from .chromium_install import ensure_chromium
from .helpers import fixture_run_requests, pipeline_log, resolve

CHROMIUM_TIMEOUT_S = 120.0
BACKGROUND = {(255, 255, 255), (246, 248, 250)}


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


def run_chromium(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    if os.geteuid() == 0 and shutil.which("unshare"):
        argv = ["unshare", "-n", *argv]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


class Figures(HTMLParser):
    """(data-figure path, shown text) of every element that carries one."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append((dict(attrs).get("data-figure"), []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            path, text = self._open.pop()
            if self._open:
                self._open[-1][1].extend(text)
            if path:
                self.found.append((path, "".join(text).strip()))
            break

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def shown_equals(text: str, value: Any) -> bool:
    """The page's text for a figure equals the JSON value (as the page formats it)."""
    if value is None:
        return text == "unknown"
    if text.startswith("$"):
        number = text[1:].replace(",", "")
        decimals = len(number.split(".")[1]) if "." in number else 0
        return abs(float(number) - value) <= 0.5 * 10**-decimals + 1e-12
    return int(text.replace(",", "")) == value


@pytest.fixture(scope="module")
def rendered(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("html")
    log = pipeline_log(root, fixture_run_requests("http-json"))
    env = clean_env()
    html = root / "report.html"
    beacon(
        "ci",
        "report",
        "--log-path",
        str(log),
        "--format",
        "html",
        "--output",
        str(html),
        env=env,
        check=True,
    )
    document = json.loads(
        beacon(
            "ci", "report", "--log-path", str(log), "--format", "json", env=env, check=True
        ).stdout
    )
    shot = root / "shot.png"
    run_chromium(
        chromium,
        root / "profile-a",
        "--window-size=1100,1600",
        f"--screenshot={shot}",
        html.as_uri(),
    )
    dom = run_chromium(chromium, root / "profile-b", "--dump-dom", html.as_uri()).stdout
    return {"json": document, "shot": shot, "dom": dom}


def test_the_page_is_not_blank(rendered: dict[str, Any]) -> None:
    with Image.open(rendered["shot"]) as image:
        pixels = image.convert("RGB")
        width, height = pixels.size
        colors = pixels.getcolors(maxcolors=width * height) or []
    drawn = sum(n for n, color in colors if color not in BACKGROUND)
    assert len(colors) > 20
    assert drawn / (width * height) > 0.03
    # The timeline's and the charts' colours are on the page (SVG rendered, not text).
    present = {color for _, color in colors}
    for color in ((9, 105, 218), (26, 127, 55), (130, 80, 223)):
        assert color in present, color


def test_the_numbers_shown_equal_the_json_report(rendered: dict[str, Any]) -> None:
    parser = Figures()
    parser.feed(rendered["dom"])
    shown = dict(parser.found)
    assert len(shown) == len(parser.found), "a figure is shown twice"
    for path in (
        "totals.cost_usd",
        "totals.tokens.input",
        "totals.tokens.output",
        "totals.tokens.cache_read",
        "totals.tokens.cache_creation",
        "totals.api.requests",
        "totals.commands.runs",
        "totals.files.modified.count",
        "totals.files.read.count",
        "totals.prompts.count",
        "totals.models.0.cost_usd",
        "sessions.0.cost_usd",
        "sessions.1.tokens.input",
    ):
        assert path in shown, path
    for path, text in shown.items():
        assert shown_equals(text, resolve(rendered["json"], path)), (path, text)
    assert "<script" not in rendered["dom"]


def test_every_figure_of_a_two_harness_page_is_the_jsons() -> None:
    """The page's own markup (no browser): harness and session tables, unknown cost."""
    from beacon.report import build_report, render_html, render_json

    def request(harness: str, session: str, cost: float | None) -> dict[str, Any]:
        usage: dict[str, Any] = {"input_tokens": 7, "output_tokens": 3}
        if cost is not None:
            usage["cost_usd"] = cost
        return {
            "timestamp": "2026-12-01T10:00:00.000Z",
            "event": {"action": "session.activity"},
            "harness": {"name": harness, "version": "1"},
            "beacon": {"session_id": "r", "source": {"signal": "logs"}},
            "session": {"id": session},
            "model": "m-1",
            "gen_ai": {"usage": usage},
        }

    report = build_report(
        [request("claude_code", "a", 0.5), request("codex", "b", None), request("codex", "c", None)]
    )
    document = json.loads(render_json(report))
    parser = Figures()
    parser.feed(render_html(report))
    shown = dict(parser.found)
    assert shown["totals.cost_usd"] == "unknown"
    assert shown["harnesses.0.cost_usd"] == "$0.5"
    assert shown["harnesses.1.cost_usd"] == "unknown"
    assert shown["sessions.2.tokens.input"] == "7"
    for path, text in shown.items():
        assert shown_equals(text, resolve(document, path)), (path, text)

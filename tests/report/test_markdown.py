"""The markdown report: tables, <details> for long lists, and GitHub's 1 MiB summary limit."""

from __future__ import annotations

from typing import Any

from beacon.report import build_report, render_json, render_markdown
from beacon.report.markdown import GITHUB_SUMMARY_LIMIT


def huge_run(sessions: int, commands_per_session: int, command_bytes: int) -> list[dict[str, Any]]:
    """Many Claude sessions, each with many long, distinct shell commands."""
    lines: list[dict[str, Any]] = []
    for s in range(sessions):
        session = {"id": f"session-{s:05d}"}
        base = {
            "timestamp": f"2026-12-01T10:{s % 60:02d}:00.000Z",
            "harness": {"name": "claude_code", "version": "2.1.197"},
            "beacon": {"session_id": "huge", "source": {"signal": "logs"}},
            "session": session,
        }
        lines.append(
            {
                **base,
                "event": {"action": "prompt.submitted"},
                "prompt": {"text": f"prompt {s} " + "p" * 3000},
            }
        )
        lines.append(
            {
                **base,
                "event": {"action": "session.activity"},
                "model": "claude-opus-4-8",
                "gen_ai": {"usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": 0.01}},
            }
        )
        for c in range(commands_per_session):
            command = f"echo {s}-{c} " + "x" * command_bytes
            lines.append(
                {
                    **base,
                    "event": {"action": "command.executed"},
                    "tool": {"name": "Bash"},
                    "command": {"command": command, "duration_ms": 5},
                    "file": {"path": f"/work/file-{s}-{c}.txt"},
                }
            )
    return lines


def test_a_huge_run_stays_under_the_summary_limit_and_says_what_it_left_out() -> None:
    report = build_report(huge_run(sessions=600, commands_per_session=20, command_bytes=2000))
    markdown = render_markdown(report, max_bytes=GITHUB_SUMMARY_LIMIT)
    assert len(markdown.encode()) <= GITHUB_SUMMARY_LIMIT
    assert "and 11,950 more commands" in markdown
    assert "and 500 more sessions" in markdown
    assert "<details><summary>Commands: 12,000 runs, 12,000 distinct</summary>" in markdown
    # The totals are still the run's, not the shown part's.
    assert "| $6.0000 |" in markdown
    assert report.to_dict()["totals"]["commands"]["omitted"] == 12_000 - 1000
    assert len(render_json(report)) > len(markdown)


def test_a_small_budget_shortens_lists_first_then_cuts_with_a_note() -> None:
    report = build_report(huge_run(sessions=50, commands_per_session=20, command_bytes=200))
    roomy = render_markdown(report, max_bytes=10_000_000)
    assert "and 950 more commands" in roomy  # 50 of 1,000 shown
    shorter = render_markdown(report, max_bytes=20_000)
    assert len(shorter.encode()) <= 20_000
    assert "more commands" in shorter and "cut to fit" not in shorter
    tiny = render_markdown(report, max_bytes=1500)
    assert len(tiny.encode()) <= 1500
    assert tiny.endswith("the full report is report.md)*\n")
    assert render_markdown(report, max_bytes=10) == ""


def test_markdown_in_a_prompt_is_shown_not_rendered() -> None:
    """An image in a prompt would make GitHub fetch it from whoever wrote the prompt."""
    line = {
        "timestamp": "2026-12-01T10:00:00.000Z",
        "event": {"action": "prompt.submitted"},
        "harness": {"name": "claude_code", "version": "1"},
        "beacon": {"session_id": "r", "source": {"signal": "logs"}},
        "session": {"id": "s"},
        "prompt": {"text": "![t](https://evil.example/p.png) [l](https://x) **b** <img src=x>"},
    }
    markdown = render_markdown(build_report([line]))
    (item,) = [row for row in markdown.splitlines() if row.startswith("1. ")]
    assert item == (
        "1. \\!\\[t\\]\\(https\\://evil\\.example/p\\.png\\) \\[l\\]\\(https\\://x\\) "
        "\\*\\*b\\*\\* &lt;img src\\=x&gt;"
    )


def test_markup_in_commands_cannot_break_the_table_or_inject_html() -> None:
    command = "echo '<script>alert(1)</script>' | grep -v `x` \n && rm -rf /tmp/y"
    line = {
        "timestamp": "2026-12-01T10:00:00.000Z",
        "event": {"action": "command.executed"},
        "harness": {"name": "claude_code", "version": "1"},
        "beacon": {"session_id": "r", "source": {"signal": "logs"}},
        "session": {"id": "s"},
        "tool": {"name": "Bash"},
        "command": {"command": command},
    }
    markdown = render_markdown(build_report([line]))
    assert "<script>" not in markdown
    (row,) = [row for row in markdown.splitlines() if "alert" in row]
    assert row.count(" | ") == 3  # four cells: the pipe in the command is escaped
    assert "\\|" in row and "&lt;script&gt;" in row

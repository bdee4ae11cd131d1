"""Object keys: the default layout, the Hive layout and ``--upload-key`` templates (pure)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from beacon.errors import UsageError

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
TEMPLATE_FIELDS = frozenset(
    {
        "prefix",
        "provider",
        "owner",
        "repo",
        "run_id",
        "run_attempt",
        "job",
        "session_id",
        "date",
        "file",
    }
)


def key_safe(part: str) -> str:
    """One key segment: ASCII letters, digits, ``._=-``; others become ``_``; never ``.``/``..``."""
    cleaned = _UNSAFE.sub("_", part.strip()).strip("_")
    return "" if cleaned in ("", ".", "..") else cleaned[:200]


def owner_repo(repository: str | None) -> tuple[str, str]:
    """``owner/repo`` from GitHub's ``owner/repo``, GitLab's ``group/sub/project`` or a git URL."""
    if not repository:
        return "", ""
    text = repository.strip()
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[-1]
    elif "@" in text and ":" in text:
        text = text.split(":", 1)[1]
    text = text.removesuffix(".git").strip("/")
    owner, _, repo = text.rpartition("/")
    return owner.replace("/", "_"), repo


@dataclass(frozen=True)
class KeyContext:
    prefix: str
    provider: str
    owner: str
    repo: str
    run_id: str
    run_attempt: str
    job: str
    session_id: str
    date: str

    @classmethod
    def from_run(
        cls, *, prefix: str, run: Mapping[str, object], session_id: str, date: str
    ) -> KeyContext:
        owner, repo = owner_repo(str(run.get("repository") or ""))

        def text(name: str) -> str:
            value = run.get(name)
            return "" if value is None or isinstance(value, bool) else str(value)

        return cls(
            prefix=prefix.strip("/"),
            provider=text("provider") or "local",
            owner=owner,
            repo=repo,
            run_id=text("run_id"),
            run_attempt=text("run_attempt"),
            job=text("job"),
            session_id=session_id,
            date=date,
        )


def _join(prefix: str, parts: list[str], file: str) -> str:
    # The prefix is the user's own: keep its slashes, clean each segment.
    segments = [key_safe(p) for p in prefix.split("/")] + [key_safe(p) for p in parts]
    return "/".join([s for s in segments if s] + [file])


def default_key(ctx: KeyContext, file: str) -> str:
    if not ctx.run_id:
        return _join(ctx.prefix, [ctx.provider, ctx.date, ctx.session_id], file)
    return _join(
        ctx.prefix,
        [ctx.owner, ctx.repo, ctx.run_id, ctx.run_attempt, ctx.job, ctx.session_id],
        file,
    )


def hive_key(ctx: KeyContext, file: str) -> str:
    repo = f"{ctx.owner}__{ctx.repo}" if ctx.owner else ctx.repo
    run = ".".join(p for p in (ctx.run_id, ctx.run_attempt) if p)
    parts = [f"dt={ctx.date}", f"provider={ctx.provider}"]
    if repo:
        parts.append(f"repo={repo}")
    if run:
        parts.append(f"run={run}")
    return _join(ctx.prefix, [*parts, ctx.job, ctx.session_id], file)


def check_template(template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise UsageError(f"invalid --upload-key {template!r}: {exc}") from exc
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise UsageError(
            f"unknown field {{{sorted(unknown)[0]}}} in --upload-key",
            hint="use " + ", ".join(f"{{{n}}}" for n in sorted(TEMPLATE_FIELDS)),
        )
    if "session_id" not in names:
        raise UsageError(
            "--upload-key must contain {session_id}",
            hint="runs of one job would overwrite each other's objects otherwise",
        )


def template_key(template: str, ctx: KeyContext, file: str) -> str:
    """``--upload-key``: the fields key-safe; ``/{file}`` appended when the template lacks it."""
    if "{file}" not in template:
        template = template.rstrip("/") + "/{file}"
    values = {name: key_safe(getattr(ctx, name)) for name in TEMPLATE_FIELDS - {"prefix", "file"}}
    key = template.format(prefix=ctx.prefix, file=file, **values)
    return "/".join(s for s in key.split("/") if s)


def object_key(ctx: KeyContext, file: str, *, layout: str, template: str | None) -> str:
    if template is not None:
        return template_key(template, ctx, file)
    return hive_key(ctx, file) if layout == "hive" else default_key(ctx, file)

"""Invitation templates: the description of the external copy, rendered in jinja2's sandbox.

A template is ``<name>.<language>.j2`` in the configured directory (bridge.config.invite).
It sees only the merge fields ``merge_fields`` builds (bridge.invite_copy): subject, start,
end, date, start_time, end_time, timezone, all_day, location, organiser, organiser_email,
organisation, externals (list of names), external_names. Internal notes, internal
attendees and CRM ids are no merge field, so no template can reach them.

Undefined names are errors (StrictUndefined): an unknown field or a failed render is a
``TemplateProblem`` naming the field, and an invite never goes out with raw merge codes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SUFFIX = ".j2"
MAX_TEMPLATE_BYTES = 64 * 1024
MAX_OUTPUT_CHARS = 32 * 1024
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


class TemplateProblem(Exception):
    """A template that cannot be used: ``field`` is what the caller got wrong ("template",
    "language", or the merge field a template used), ``reason`` in words."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def _file(directory: Path, name: str, language: str) -> Path:
    if not NAME.fullmatch(name):
        raise TemplateProblem("template", f"{name!r} is not a template name ({NAME.pattern})")
    if not NAME.fullmatch(language):
        raise TemplateProblem("language", f"{language!r} is not a language code")
    path = directory / f"{name}.{language}{SUFFIX}"
    if not path.is_file():
        known = any(directory.glob(f"{name}.*{SUFFIX}"))
        raise TemplateProblem(
            "language" if known else "template",
            f"no template {name!r} in language {language!r} ({path.name} is not in the"
            " templates directory)",
        )
    return path


@lru_cache(maxsize=64)
def _compiled(path: str, mtime: float, size: int) -> Any:
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateProblem("template", f"{Path(path).name} is larger than {MAX_TEMPLATE_BYTES}")
    source = Path(path).read_text(encoding="utf-8")
    try:
        return _environment().from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(
            "template", f"{Path(path).name} line {exc.lineno}: {exc.message}"
        ) from None


def _load(path: Path) -> Any:
    stat = path.stat()
    return _compiled(str(path), stat.st_mtime, stat.st_size)


def compile_all(directory: Path) -> list[str]:
    """Compile every template in ``directory`` (configuration check); their file names."""
    names = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        _load(path)
        names.append(path.name)
    return names


def _field_of(exc: Exception) -> str:
    match = _UNDEFINED.search(str(exc))
    if match:
        return match.group(1) or match.group(2)
    return "template"


def render(directory: Path, name: str, language: str, fields: dict[str, Any]) -> str:
    """The template ``name`` in ``language`` rendered with ``fields``; TemplateProblem
    naming the unknown field (or the template) when it cannot be."""
    template = _load(_file(directory, name, language))
    try:
        text = template.render(**fields)
    except UndefinedError as exc:
        field = _field_of(exc)
        raise TemplateProblem(
            field, f"unknown merge field {field!r} in {name}.{language}{SUFFIX}"
        ) from None
    except SecurityError as exc:
        raise TemplateProblem("template", f"refused by the sandbox: {exc}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateProblem("template", f"{name}.{language}{SUFFIX} failed: {exc}") from None
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateProblem("template", f"renders to more than {MAX_OUTPUT_CHARS} characters")
    return text.strip() + "\n" if text.strip() else ""

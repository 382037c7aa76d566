"""The `[invite]` table of the config file: the Invite action (bridge.invite).

```toml
[invite]
internal_domains = ["example.com"]   # addresses at these domains (and every configured
                                     # user's address) are colleagues, never invited
organisation = "Example Ltd"         # the {{ organisation }} merge field
templates_dir = "templates"          # invitation templates (relative to this file);
                                     # absent: templates/ beside this file if it exists,
                                     # else the ones bundled with the package
default_language = "en"              # en | da | sv | de
```

A template is ``<name>.<language>.j2`` in ``templates_dir``; ``default.<language>.j2``
must exist for every language. Each template is compiled at load, so a syntax error is
reported with the file, key and line, not at the first invite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config.validators import _array_of, _choice, _Problem, _string, table_values

LANGUAGES = ("en", "da", "sv", "de")
DEFAULT_TEMPLATE = "default"
#: The templates shipped inside the package (the same as config/templates/ of the repository).
BUNDLED_TEMPLATES = Path(__file__).resolve().parents[1] / "invite_templates"
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclass(frozen=True)
class InviteSettings:
    internal_domains: tuple[str, ...] = ()
    organisation: str = ""
    templates_dir: Path = BUNDLED_TEMPLATES
    default_language: str = "en"


def _domain(value: Any, key: str) -> str:
    text = _string(nonempty=True)(value, key).strip().lower().lstrip("@")
    if not _DOMAIN.fullmatch(text):
        raise _Problem(key, f"{value!r} is not a domain name (like example.com)")
    return text


_KEYS = {
    "internal_domains": _array_of(_domain),
    "organisation": _string(),
    "templates_dir": _string(nonempty=True),
    "default_language": _choice(*LANGUAGES),
}


def check_templates(directory: Path, key: str) -> None:
    """Every default template present, every template compiling in the sandbox."""
    from bridge.invite_render import TemplateProblem, compile_all

    if not directory.is_dir():
        raise _Problem(key, f"{str(directory)!r} is not a directory")
    missing = [
        f"{DEFAULT_TEMPLATE}.{lang}.j2"
        for lang in LANGUAGES
        if not (directory / f"{DEFAULT_TEMPLATE}.{lang}.j2").is_file()
    ]
    if missing:
        raise _Problem(key, f"{str(directory)!r} lacks {', '.join(missing)}")
    try:
        compile_all(directory)
    except TemplateProblem as problem:
        raise _Problem(key, str(problem)) from None


def parse_invite(data: Any, base_dir: Path) -> InviteSettings:
    """Validate the ``[invite]`` table (absent: the defaults and the bundled templates)."""
    values = table_values(data, "invite", _KEYS)
    local = base_dir / "templates"
    directory = local if local.is_dir() else BUNDLED_TEMPLATES
    if "templates_dir" in values:
        directory = Path(values["templates_dir"])
        if not directory.is_absolute():
            directory = base_dir / directory
    check_templates(directory, "invite.templates_dir")
    values["templates_dir"] = directory
    values["internal_domains"] = tuple(dict.fromkeys(values.get("internal_domains", ())))
    return InviteSettings(**values)

"""Versioned prompt files shipped with the package (``aura/data/prompts/<name>.v<N>.txt``).

A prompt file has a ``[system]`` and a ``[user]`` section; ``$name`` placeholders are filled with
``string.Template`` (JSON braces in the text need no escaping). The first system line is the
task tag ``aura-task: <name>/v<N>``, so logs and servers can tell which step a request is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any

from aura.data.errors import DataError

_NAME = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.txt$")


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt: ``render`` fills its placeholders."""

    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        """``name/vN``, as recorded with every output made with it."""
        return f"{self.name}/v{self.version}"

    def render(self, **values: Any) -> tuple[str, str]:
        """The (system, user) texts with every ``$placeholder`` filled; a missing one is a bug."""
        vals = {k: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in values.items()}
        return Template(self.system).substitute(vals), Template(self.user).substitute(vals)


def _files() -> Any:
    return resources.files("aura.data") / "prompts"


def available() -> dict[str, list[int]]:
    """Prompt names and their versions shipped in the package."""
    out: dict[str, list[int]] = {}
    for entry in _files().iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.setdefault(m.group("name"), []).append(int(m.group("version")))
    return {k: sorted(v) for k, v in sorted(out.items())}


@lru_cache(maxsize=64)
def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt ``name`` at ``version`` (default: the newest shipped). Raises ``DataError``."""
    versions = available().get(name)
    if not versions:
        raise DataError(f"no prompt named {name!r} in the package")
    version = versions[-1] if version is None else version
    if version not in versions:
        raise DataError(f"prompt {name!r} has no version {version} (have {versions})")
    text = (_files() / f"{name}.v{version}.txt").read_text(encoding="utf-8")
    parts = re.split(r"^\[(system|user)\]\s*$", text, flags=re.M)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise DataError(f"prompt {name}.v{version} needs a [system] and a [user] section")
    tag = f"aura-task: {name}/v{version}"
    if not sections["system"].startswith(tag):
        raise DataError(f"prompt {name}.v{version}: the system text must start with {tag!r}")
    return Prompt(name, version, sections["system"], sections["user"])


@lru_cache(maxsize=8)
def load_templates(filename: str) -> list[dict[str, str]]:
    """Phrasing templates (a JSON list of {id, kind, template}) shipped beside the prompts."""
    try:
        data = json.loads((_files() / filename).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise DataError(f"phrasing templates {filename}: {exc}") from None
    keys = {"id", "kind", "template"}
    if not isinstance(data, list) or not all(isinstance(t, dict) and keys <= set(t) for t in data):
        raise DataError(f"phrasing templates {filename}: expected a list of {{id, kind, template}} objects")
    return data


def task_of(system_text: str) -> str | None:
    """The task tag (``name/vN``) a system prompt starts with, or None."""
    m = re.match(r"aura-task: (\S+)", system_text or "")
    return m.group(1) if m else None

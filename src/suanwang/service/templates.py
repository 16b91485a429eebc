"""Job templates: the commands an operator lets tenants run by name.

By default a tenant's job on a site with an executor runs a sleep of its duration; a tenant
may instead name a template (`"template": "render"`), whose command and environment the
operator fixed in a YAML file given to `suanwang serve --job-templates FILE`:

    render:
      command: [/opt/render/bin/render, --frames, "100"]
      env: {RENDER_QUALITY: high}       # optional
      description: Blender render farm  # optional

Only `suanwang serve --allow-tenant-commands` lets tenants give a `command`, `env` or
`workdir` of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from suanwang.errors import InputError


@dataclass(frozen=True, slots=True)
class JobTemplate:
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    description: str = ""


def load_templates(path: Path | None) -> dict[str, JobTemplate]:
    if path is None:
        return {}
    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(source, "(file)", source, f"cannot be read as YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(source, "(document)", type(doc).__name__,
                         "must map template name to {command, env, description}")
    out: dict[str, JobTemplate] = {}
    for name, node in doc.items():
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InputError(source, "(name)", name, "a template name is 1 to 64 characters")
        if not isinstance(node, dict):
            raise InputError(source, name, node, "must be {command: [...], env: {...}}")
        unknown = set(node) - {"command", "env", "description"}
        if unknown:
            raise InputError(source, f"{name}.{sorted(unknown)[0]}", node[sorted(unknown)[0]],
                             "unknown key; known: command, env, description")
        command = node.get("command")
        if not isinstance(command, list) or not command or \
                not all(isinstance(c, str | int | float) for c in command):
            raise InputError(source, f"{name}.command", command,
                             "must be a non-empty list of strings")
        env = node.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise InputError(source, f"{name}.env", env, "must map names to values")
        out[name] = JobTemplate(tuple(str(c) for c in command),
                                {k: str(v) for k, v in env.items()},
                                str(node.get("description") or ""))
    return out

"""Poetry's dependency tables as PEP 508 requirements (pure functions over parsed TOML).

Poetry projects declare dependencies in `[tool.poetry.dependencies]` with their own constraint
syntax (`^1.2`, `~1.2`, `*`); pip needs PEP 508. Optional, path and VCS dependencies are left
out (VCS ones on unreachable hosts are reported).
"""

from __future__ import annotations

import re

_OPERATOR = re.compile(r"^\s*(==|!=|<=|>=|<|>|~=|===)")


def poetry_constraint(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier (`^1.2` -> `>=1.2,<2`)."""
    parts = [p.strip() for p in constraint.split(",") if p.strip()]
    out = []
    for part in parts:
        if part in ("*", ""):
            continue
        if part.startswith("^"):
            out.append(_caret(part[1:]))
        elif part.startswith("~") and not part.startswith("~="):
            out.append(_tilde(part[1:]))
        elif _OPERATOR.match(part):
            out.append(part.replace(" ", ""))
        else:
            out.append(f"=={part}")
    return ",".join(out)


def poetry_requirements(table: dict) -> tuple[list[str], list[str]]:
    """(requirements, unreachable sources) from one Poetry dependency table."""
    reqs, unreachable = [], []
    for name, value in table.items():
        if name.lower() == "python":
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            spec = item if isinstance(item, dict) else {"version": str(item)}
            if spec.get("optional") or "path" in spec:
                continue
            if "git" in spec or "url" in spec:
                unreachable.append(f"{name} @ {spec.get('git') or spec.get('url')}")
                continue
            req = name + (f"[{','.join(spec['extras'])}]" if spec.get("extras") else "")
            req += poetry_constraint(str(spec.get("version", "*")))
            markers = _markers(spec)
            reqs.append(f"{req}; {markers}" if markers else req)
    return reqs, unreachable


def poetry_groups(poetry: dict) -> dict[str, dict]:
    """Dependency groups by name (`[tool.poetry.group.<g>.dependencies]`, old `dev-dependencies`)."""
    groups = {name: group.get("dependencies", {}) for name, group in poetry.get("group", {}).items()}
    if "dev-dependencies" in poetry:
        groups.setdefault("dev", poetry["dev-dependencies"])
    return groups


def _caret(version: str) -> str:
    nums = [int(n) for n in re.findall(r"\d+", version)] or [0]
    idx = next((i for i, n in enumerate(nums) if n != 0), len(nums) - 1)
    upper = nums[: idx + 1]
    upper[-1] += 1
    return f">={version},<{'.'.join(map(str, upper))}"


def _tilde(version: str) -> str:
    nums = [int(n) for n in re.findall(r"\d+", version)] or [0]
    upper = nums[:2] if len(nums) > 1 else nums[:1]
    upper[-1] += 1
    return f">={version},<{'.'.join(map(str, upper))}"


def _markers(spec: dict) -> str:
    markers = []
    if spec.get("python"):
        markers.append(" and ".join(f'python_version {op} "{v}"' for op, v in
                                    _python_clauses(poetry_constraint(str(spec["python"])))))
    if spec.get("markers"):
        markers.append(str(spec["markers"]))
    return " and ".join(f"({m})" if " and " in m or " or " in m else m for m in markers if m)


def _python_clauses(specifier: str) -> list[tuple[str, str]]:
    clauses = []
    for part in specifier.split(","):
        match = re.match(r"(==|!=|<=|>=|<|>|~=)(.+)", part)
        if match:
            clauses.append((match.group(1), match.group(2)))
    return clauses

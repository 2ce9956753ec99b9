"""setup.py read without running it: the literal arguments of its `setup(...)` call.

Pure functions over source text. Values built by code (reading files, calling functions)
come back as None, and the caller marks the dependencies as dynamic.
"""

from __future__ import annotations

import ast


def from_setup_py(files: dict[str, str]) -> dict:
    """Metadata that `setup(...)` in setup.py declares as literals (resolving simple names)."""
    if "setup.py" not in files:
        return {}
    out: dict = {"method": "setup.py"}
    try:
        tree = ast.parse(files["setup.py"])
    except SyntaxError:
        return {**out, "dynamic": True}
    names = _literal_assignments(tree)
    call = next((n for n in ast.walk(tree) if isinstance(n, ast.Call) and _call_name(n) == "setup"), None)
    if call is None:
        return {**out, "dynamic": True}
    keywords = {k.arg: _literal(k.value, names) for k in call.keywords if k.arg}
    raw = {k.arg: k.value for k in call.keywords if k.arg}
    raw_extras = keywords.get("extras_require")
    extras = {k: _as_list(v) for k, v in raw_extras.items()} if isinstance(raw_extras, dict) else {}
    if keywords.get("tests_require"):
        extras["test"] = extras.get("test", []) + _as_list(keywords["tests_require"])
    out.update(name=keywords.get("name") or "", requires_python=keywords.get("python_requires") or "",
               classifiers=_as_list(keywords.get("classifiers")),
               dependencies=_as_list(keywords.get("install_requires")), extras=extras)
    if ("install_requires" in raw and keywords.get("install_requires") is None) or (
        "extras_require" in raw and keywords.get("extras_require") is None
    ):
        out["dynamic"] = True
    return out


def _as_list(value: object) -> list[str]:
    """setuptools accepts a string (one requirement a line) or any sequence of strings."""
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str)]
    return []


def _literal_assignments(tree: ast.Module) -> dict[str, object]:
    names: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, names)
            if value is not None:
                names[node.targets[0].id] = value
    return names


def _literal(node: ast.AST, names: dict[str, object]) -> object | None:
    """A literal value, resolving module-level names and `list + list` (None when computed)."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(item, names) for item in node.elts]
        return None if any(item is None for item in items) else list(items)
    if isinstance(node, ast.Dict):
        keys = [_literal(k, names) if k is not None else None for k in node.keys]
        values = [_literal(v, names) for v in node.values]
        if any(k is None or v is None for k, v in zip(keys, values)):
            return None
        return dict(zip(keys, values))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names), _literal(node.right, names)
        if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            return [*left, *right]
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""

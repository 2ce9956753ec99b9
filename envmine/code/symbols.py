"""Functions, classes and tests in one source file, found with tree-sitter.

`functions_in` lists definitions (functions, methods, classes and their kin); `tests_in`
lists tests, whether a language declares them as definitions (`def test_x`, `@Test void x()`,
`#[test] fn x()`, `TEST(Suite, Name)`) or by calls (`it("adds", ...)`, `test("x") {...}`).

Qualified names join enclosing definitions with `.` (`Calc.add`, `tests.it_adds`,
`calc.Calc.sub`); names inside call-style suites join the titles with ` > `
(`math > nested group > works deep`). Lines are 1-based and inclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .conventions import TestConvention, convention
from .grammars import Grammar, grammar, parse

DEFINITION_KINDS = ("function", "method", "class")
ANNOTATION_HOLDERS = frozenset({"modifiers", "attribute_list", "annotation", "marker_annotation"})
ANNOTATION_NAME = re.compile(r"^[@#!\[\s]*([\w.:]+)")
STRING_TYPES = frozenset({"string", "template_string", "string_literal", "interpreted_string_literal",
                          "raw_string_literal"})
RUBY_NAMES = frozenset({"constant", "scope_resolution", "simple_symbol"})
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
SPEC_VERBS = frozenset({"should", "must", "can", "when", "which"})
SPEC_IN = frozenset({"in", "ignore", "is"})
NAMESPACES = frozenset({"mod_item", "namespace_definition", "internal_module"})
ATTACHED = frozenset({"attribute_item", "comment", "line_comment", "block_comment"})


@dataclass(frozen=True)
class Symbol:
    """One definition or test in a source file."""

    name: str
    qualified: str
    """Name with its enclosing definitions (`Class.method`) or suites (`describe > it`)."""
    kind: str
    """`function`, `method`, `class`, `test` (a call-style test) or `suite`."""
    start_line: int
    end_line: int
    is_test: bool = False


def functions_in(source: str, language: str, path: str = "") -> list[Symbol]:
    """The functions, methods and classes defined in `source`, in source order."""
    return [s for s in walk(source, language, path) if s.kind in DEFINITION_KINDS]


def tests_in(source: str, language: str, path: str = "") -> list[Symbol]:
    """The tests declared in `source` (definitions by the language's conventions, and calls)."""
    return [s for s in walk(source, language, path) if s.is_test]


def walk(source: str, language: str, path: str = "") -> list[Symbol]:
    """Every symbol of `source`: definitions, tests and suites."""
    spec, rules = grammar(language), convention(language)
    out: list[Symbol] = []
    _visit(parse(source, language, path).root_node, _Context(spec, rules, language), [], [], False, out)
    return sorted(out, key=lambda s: (s.start_line, -s.end_line))


@dataclass(frozen=True)
class _Context:
    spec: Grammar
    rules: TestConvention
    language: str


def _visit(node, ctx: _Context, scope: list[str], titles: list[str], in_class: bool, out: list[Symbol]) -> None:
    for child in node.named_children:
        found = _symbol(child, ctx, scope, titles, in_class)
        if found is None:
            _visit(child, ctx, scope, titles, in_class, out)
            continue
        out.append(found)
        if found.kind in ("test", "suite"):
            _visit(child, ctx, scope, [*titles, found.name], False, out)
        else:
            dotted = _definition_name(child, ctx) or found.name
            is_class = found.kind == "class" and child.type not in NAMESPACES
            _visit(child, ctx, [*scope, *dotted.split(".")], titles, is_class, out)


def _symbol(node, ctx: _Context, scope: list[str], titles: list[str], in_class: bool) -> Symbol | None:
    kind = _definition_kind(node, ctx)
    if kind:
        dotted = _definition_name(node, ctx)
        if not dotted:
            return None
        macro = _is_macro(node, ctx)
        if kind == "function" and (in_class or ("." in dotted and not macro)):
            kind = "method"
        qualified = _join(scope, titles, dotted)
        is_test = kind != "class" and (macro or _is_test_definition(node, dotted, ctx))
        return Symbol(dotted.rsplit(".", 1)[-1], qualified, kind, _start(node), _end(node), is_test)
    call = _call_test(node, ctx)
    if call:
        call_kind, title = call
        qualified = _join(scope, [*titles, title], "")
        return Symbol(title, qualified, call_kind, _start(node), _end(node), call_kind == "test")
    return None


def _join(scope: list[str], titles: list[str], dotted: str) -> str:
    """`Outer.Inner.name`, or `Outer.Inner > suite > title` inside call-style suites."""
    if titles:
        return " > ".join([".".join(scope)] * bool(scope) + titles + [dotted] * bool(dotted))
    return ".".join([*scope, dotted])


def _definition_kind(node, ctx: _Context) -> str | None:
    spec = ctx.spec
    if node.type in spec.functions:
        return "function"
    if node.type in spec.function_values:
        value = node.child_by_field_name("value")
        return "function" if value is not None and value.type in FUNCTION_VALUES else None
    if node.type in spec.containers:
        if node.type in spec.needs_body and node.child_by_field_name("body") is None:
            return None
        return "class"
    return None


def _text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def _definition_name(node, ctx: _Context) -> str | None:
    """The definition's name, dotted when the definition itself names its owner
    (`func (c *Calc) Add`, `int Calc::sub()`, `TEST(Suite, Name)`)."""
    if ctx.language in ("c", "cpp") and node.type == "function_definition":
        return _c_function_name(node, ctx)
    if node.type == "impl_item":
        return re.sub(r"<.*", "", _text(node.child_by_field_name("type"))) or None
    name = node.child_by_field_name("name") or node.child_by_field_name("property")
    text = _text(name).strip("`")
    if not text:
        return None
    if node.type == "method_declaration" and ctx.language == "go":
        receiver = re.findall(r"\w+", re.sub(r"\[.*?\]", "", _text(node.child_by_field_name("receiver"))))
        return f"{receiver[-1]}.{text}" if receiver else text
    return text.replace("::", ".") if ctx.language in ("ruby", "cpp") else text


def _c_function_name(node, ctx: _Context) -> str | None:
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    if declarator is None:
        return None
    name = _text(declarator.child_by_field_name("declarator"))
    if name in ctx.rules.macros:
        params = declarator.child_by_field_name("parameters")
        parts = [_text(p) for p in params.named_children] if params is not None else []
        return ".".join(parts) if len(parts) == 2 else None
    return name.replace("::", ".") or None


def _start(node) -> int:
    """First line of a definition, counting its decorators and attributes."""
    if node.parent is not None and node.parent.type == "decorated_definition":
        node = node.parent
    first, current, sibling = node, node, node.prev_named_sibling
    while sibling is not None and sibling.type in ATTACHED and _attached(sibling, current):
        if sibling.type == "attribute_item":
            first = sibling
        current, sibling = sibling, sibling.prev_named_sibling
    return first.start_point[0] + 1


def _attached(sibling, node) -> bool:
    return node.start_point[0] - sibling.end_point[0] <= 1


def _end(node) -> int:
    return node.end_point[0] + 1


def _annotations(node) -> set[str]:
    """Names of the annotations, attributes and docblock tags attached to a definition."""
    names: set[str] = set()
    holders = [c for c in node.children if c.type in ANNOTATION_HOLDERS]
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in ATTACHED and _attached(sibling, node):
        if sibling.type != "attribute_item":
            names.update(re.findall(r"@(\w+)", _text(sibling)))
        else:
            holders.append(sibling)
        node, sibling = sibling, sibling.prev_named_sibling
    for holder in holders:
        for item in _descendants(holder):
            if item.type in ("annotation", "marker_annotation", "attribute", "attribute_item"):
                match = ANNOTATION_NAME.match(_text(item))
                if match:
                    names.add(re.split(r"[.:]+", match.group(1))[-1])
    return names


def _descendants(node):
    yield node
    for child in node.named_children:
        yield from _descendants(child)


def _is_macro(node, ctx: _Context) -> bool:
    """A gtest-style `TEST(Suite, Name) {...}` definition."""
    if not ctx.rules.macros or node.type != "function_definition":
        return False
    declarator = _text(node.child_by_field_name("declarator"))
    return declarator.split("(", 1)[0].strip() in ctx.rules.macros


def _is_test_definition(node, dotted: str, ctx: _Context) -> bool:
    rules = ctx.rules
    name = dotted.rsplit(".", 1)[-1]
    if rules.names is not None and rules.names.search(name):
        return True
    return bool(rules.annotations and rules.annotations & _annotations(node))


def _unquote(node) -> str | None:
    if node.type in STRING_TYPES:
        text = _text(node)
        return text[1:-1] if len(text) >= 2 and text[0] in "'\"`" else text
    if node.type in RUBY_NAMES:
        return _text(node)
    return None


def _call_test(node, ctx: _Context) -> tuple[str, str] | None:
    """`(kind, title)` when `node` declares a call-style test or suite."""
    if ctx.language == "scala" and node.type == "infix_expression":
        return _flat_spec(node)
    if node.type not in ctx.spec.calls:
        return None
    parent = node.parent
    if parent is not None and parent.type == node.type and parent.child_by_field_name("function") == node:
        return None  # the inner call of `test("x") {...}` / `it.each(rows)("x", fn)`
    layers, callee = [node], node.child_by_field_name("function") or node.child_by_field_name("method")
    while callee is not None and callee.type == node.type:
        layers.append(callee)
        callee = callee.child_by_field_name("function")
    while callee is not None and callee.type in ("member_expression", "field_expression"):
        callee = callee.child_by_field_name("object") or callee.child_by_field_name("value")
    base = _text(callee)
    kind = "test" if base in ctx.rules.test_calls else "suite" if base in ctx.rules.suite_calls else None
    if kind is None:
        return None
    title = _title(layers)
    return (kind, title) if title is not None else None


def _title(layers) -> str | None:
    for layer in layers:
        args = layer.child_by_field_name("arguments")
        if args is None:
            continue
        named = [a for a in args.named_children if a.type != "comment"]
        if named:
            inner = named[0].named_children[0] if named[0].type == "value_argument" and named[0].named_children else named[0]
            title = _unquote(inner)
            if title is not None:
                return title
    return None


def _flat_spec(node) -> tuple[str, str] | None:
    """ScalaTest FlatSpec / WordSpec: `"Calc" should "add" in { ... }`."""
    operator, left = node.child_by_field_name("operator"), node.child_by_field_name("left")
    if _text(operator) not in SPEC_IN or left is None or left.type != "infix_expression":
        return None
    verb = _text(left.child_by_field_name("operator"))
    subject, what = left.child_by_field_name("left"), left.child_by_field_name("right")
    if verb not in SPEC_VERBS or subject is None or what is None:
        return None
    subject_text = _unquote(subject) or _text(subject)
    what_text = _unquote(what)
    return ("test", f"{subject_text} {verb} {what_text}") if what_text is not None else None


# Not a pytest test, though its name starts with "test" and test modules import it.
tests_in.__test__ = False  # type: ignore[attr-defined]

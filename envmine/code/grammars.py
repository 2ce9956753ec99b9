"""Which tree-sitter grammar parses which language, and where its definitions are.

Knowledge is data: one `Grammar` per language (keyed like the language specs) names the
grammar wheel and the node types that define functions and classes. Grammars load lazily,
on first use, and stay cached; an unknown language's error lists the known ones.
"""

from __future__ import annotations

import importlib
import posixpath
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Parser


@dataclass(frozen=True)
class Grammar:
    """One language's grammar wheel and the shape of its definitions."""

    module: str
    """Python module of the grammar wheel (`tree_sitter_python`)."""
    extensions: tuple[str, ...]
    functions: frozenset[str]
    """Node types that define a function or method."""
    containers: frozenset[str]
    """Node types that define a class, module, namespace, impl block, ..."""
    entry: str = "language"
    """Function of `module` that returns the language pointer."""
    function_values: frozenset[str] = frozenset()
    """Node types that define a function when their `value` is a function (`const f = () => 1`)."""
    needs_body: frozenset[str] = frozenset()
    """Container types that are only definitions when they have a body (C `struct s` uses)."""
    calls: frozenset[str] = frozenset()
    """Node types of calls, for call-style tests (`it("adds", ...)`, `test("x") {...}`)."""
    by_extension: dict[str, str] = field(default_factory=dict)
    """Extension -> other entry point of the same wheel (`.tsx` -> `language_tsx`)."""


JS_FUNCTIONS = frozenset({
    "function_declaration", "generator_function_declaration", "method_definition",
    "method_signature", "abstract_method_signature", "function_signature",
})
JS_CONTAINERS = frozenset({
    "class_declaration", "abstract_class_declaration", "class", "interface_declaration",
    "internal_module", "enum_declaration",
})
JS_VALUES = frozenset({"variable_declarator", "field_definition", "public_field_definition"})
CPP_CONTAINERS = frozenset({"class_specifier", "struct_specifier", "namespace_definition", "union_specifier"})

GRAMMARS: dict[str, Grammar] = {
    "python": Grammar(
        module="tree_sitter_python", extensions=(".py", ".pyi"),
        functions=frozenset({"function_definition"}),
        containers=frozenset({"class_definition"}),
    ),
    "javascript": Grammar(
        module="tree_sitter_javascript", extensions=(".js", ".jsx", ".mjs", ".cjs"),
        functions=JS_FUNCTIONS, containers=JS_CONTAINERS, function_values=JS_VALUES,
        calls=frozenset({"call_expression"}),
    ),
    "typescript": Grammar(
        module="tree_sitter_typescript", entry="language_typescript",
        extensions=(".ts", ".tsx", ".mts", ".cts"), by_extension={".tsx": "language_tsx"},
        functions=JS_FUNCTIONS, containers=JS_CONTAINERS, function_values=JS_VALUES,
        calls=frozenset({"call_expression"}),
    ),
    "go": Grammar(
        module="tree_sitter_go", extensions=(".go",),
        functions=frozenset({"function_declaration", "method_declaration"}),
        containers=frozenset({"type_spec"}),
    ),
    "rust": Grammar(
        module="tree_sitter_rust", extensions=(".rs",),
        functions=frozenset({"function_item", "function_signature_item"}),
        containers=frozenset({"impl_item", "trait_item", "mod_item", "struct_item", "enum_item"}),
    ),
    "java": Grammar(
        module="tree_sitter_java", extensions=(".java",),
        functions=frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
        containers=frozenset({
            "class_declaration", "interface_declaration", "enum_declaration",
            "record_declaration", "annotation_type_declaration",
        }),
    ),
    "kotlin": Grammar(
        module="tree_sitter_kotlin", extensions=(".kt", ".kts"),
        functions=frozenset({"function_declaration"}),
        containers=frozenset({"class_declaration", "object_declaration"}),
        calls=frozenset({"call_expression"}),
    ),
    "c": Grammar(
        module="tree_sitter_c", extensions=(".c", ".h"),
        functions=frozenset({"function_definition"}),
        containers=frozenset({"struct_specifier", "union_specifier"}),
        needs_body=frozenset({"struct_specifier", "union_specifier"}),
    ),
    "cpp": Grammar(
        module="tree_sitter_cpp", extensions=(".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h"),
        functions=frozenset({"function_definition"}),
        containers=CPP_CONTAINERS, needs_body=CPP_CONTAINERS,
    ),
    "ruby": Grammar(
        module="tree_sitter_ruby", extensions=(".rb", ".rake"),
        functions=frozenset({"method", "singleton_method"}),
        containers=frozenset({"class", "module"}),
        calls=frozenset({"call"}),
    ),
    "php": Grammar(
        module="tree_sitter_php", entry="language_php", extensions=(".php",),
        functions=frozenset({"function_definition", "method_declaration"}),
        containers=frozenset({"class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"}),
    ),
    "scala": Grammar(
        module="tree_sitter_scala", extensions=(".scala", ".sc"),
        functions=frozenset({"function_definition", "function_declaration"}),
        containers=frozenset({"class_definition", "object_definition", "trait_definition", "enum_definition"}),
        calls=frozenset({"call_expression"}),
    ),
}


def known_languages() -> list[str]:
    return sorted(GRAMMARS)


def grammar(language: str) -> Grammar:
    """The grammar data of `language`; an unknown name's error lists the known ones."""
    try:
        return GRAMMARS[language]
    except KeyError:
        raise KeyError(f"unknown language {language!r}; known: {', '.join(known_languages())}") from None


@cache
def parser(language: str, extension: str = "") -> Parser:
    """A parser for `language` (the grammar wheel is imported on first use)."""
    spec = grammar(language)
    module = importlib.import_module(spec.module)
    entry = spec.by_extension.get(extension, spec.entry)
    return Parser(Language(getattr(module, entry)()))


def language_of(path: str, hint: str | None = None) -> str | None:
    """The language that parses `path`: `hint` when its extensions match, else by extension.

    `None` for files no grammar knows (docs, data, build files).
    """
    extension = posixpath.splitext(path)[1].lower()
    if hint and extension in grammar(hint).extensions:
        return hint
    for name, spec in GRAMMARS.items():
        if extension in spec.extensions:
            return name
    return None


def parse(source: str, language: str, path: str = ""):
    """The syntax tree of `source` (a tree-sitter `Tree`)."""
    extension = posixpath.splitext(path)[1].lower()
    return parser(language, extension if extension in grammar(language).by_extension else "").parse(
        source.encode("utf-8"))

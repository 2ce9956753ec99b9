"""Code analysis with tree-sitter: definitions and tests per file, and what a diff touches.

Grammars come from the individual `tree-sitter-<language>` wheels and load on first use.
Languages are keyed like the language specs: python, javascript, typescript, go, rust, java,
kotlin, c, cpp, ruby, php, scala.
"""

from envmine.code.diffs import changed_symbols, test_functions_in_diff
from envmine.code.grammars import known_languages, language_of
from envmine.code.symbols import Symbol, functions_in, tests_in

__all__ = [
    "Symbol",
    "changed_symbols",
    "functions_in",
    "known_languages",
    "language_of",
    "test_functions_in_diff",
    "tests_in",
]

"""Language specs: one TOML file per language in this folder, validated when loaded."""

from envmine.languages.spec import LanguageSpec, known_languages, load_language

__all__ = ["LanguageSpec", "known_languages", "load_language"]

from pathlib import Path

import pytest

from envmine.config import DEFAULT_CONFIG, RunConfig, SourceConfig
from envmine.settings import Settings, home_dir


def test_default_config_parses_and_names_real_sources():
    cfg = RunConfig.from_file(DEFAULT_CONFIG)
    assert cfg.sources and all(s.kind == "pypi" and s.name for s in cfg.sources)


def test_source_needs_its_target():
    with pytest.raises(ValueError, match="needs `url`"):
        SourceConfig(kind="git")
    with pytest.raises(ValueError, match="needs `repo`"):
        SourceConfig(kind="github")
    assert SourceConfig(kind="pypi", name="attrs").label == "pypi:attrs"


def test_unknown_keys_are_errors(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[[sources]]\nkind = "git"\nurl = "/x"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="colour"):
        RunConfig.from_file(path)


def test_malformed_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[sources]\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        RunConfig.from_file(path)


def test_command_line_sources_replace_file_sources():
    cfg = RunConfig.from_file(DEFAULT_CONFIG).with_sources([SourceConfig(kind="git", url="/r")], 3)
    assert [s.label for s in cfg.sources] == ["git:/r"]
    assert cfg.run.max_candidates == 3


def test_home_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVMINE_HOME", str(tmp_path / "env"))
    assert home_dir() == (tmp_path / "env").resolve()
    assert home_dir(tmp_path / "arg") == (tmp_path / "arg").resolve()
    settings = Settings.load({"settings": {"docker": {"concurrency": 3}}}, home=tmp_path / "h")
    assert settings.docker.concurrency == 3
    assert settings.catalog_dir == (tmp_path / "h").resolve() / "catalog"


def test_missing_ca_bundle_is_reported(tmp_path):
    settings = Settings.load({"settings": {"docker": {"ca_bundle": str(tmp_path / "nope.pem")}}}, home=tmp_path)
    with pytest.raises(FileNotFoundError, match="CA bundle"):
        settings.docker.resolved_ca_bundle()

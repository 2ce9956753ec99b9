from pathlib import Path

import pytest
from typer.testing import CliRunner

from envmine.cli import app
from envmine.config import DEFAULT_CONFIG, RunConfig, SourceConfig
from envmine.config_check import ConfigError
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


def _valid_names(message: str, key: str) -> list[str]:
    line = next(line for line in message.splitlines() if line.strip().startswith(f"{key}: unknown key (valid: "))
    return line.split("(valid: ")[1].rstrip(")").split(", ")


def test_a_typo_in_a_settings_table_names_the_valid_keys(tmp_path):
    from envmine.miners.github.settings import GithubSettings
    from envmine.settings import DockerSettings

    path = tmp_path / "run.toml"
    path.write_text('[settings.docker]\nconcurency = 3\n\n[github]\nmin_star = 5\n')
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid config")
    assert _valid_names(message, "settings.docker.concurency") == sorted(DockerSettings.model_fields)
    assert _valid_names(message, "github.min_star") == sorted(GithubSettings.model_fields)
    assert "concurrency" in DockerSettings.model_fields and "min_stars" in GithubSettings.model_fields


def test_settings_load_names_the_bad_key_without_its_value(tmp_path):
    from envmine.settings import Limits

    with pytest.raises(ConfigError) as caught:
        Settings.load({"settings": {"validation": {"limits": {"memry": "secret-value"}}}}, home=tmp_path)
    assert _valid_names(str(caught.value), "settings.validation.limits.memry") == sorted(Limits.model_fields)
    assert "secret-value" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Settings.load({"settings": {"docker": {"concurrency": "many-secret"}}}, home=tmp_path)
    assert "settings.docker.concurrency: Input should be a valid integer" in str(caught.value)
    assert "many-secret" not in str(caught.value)


def test_the_cli_reports_a_bad_config_without_a_traceback(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[[sources]]\nkind = "git"\nurl = "/x"\n\n[settings.validaton]\nafter_runs = 3\n')
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--home", str(tmp_path / "h")])
    assert result.exit_code == 2 and "Traceback" not in result.output and result.exception is not None
    said = " ".join(result.output.split())
    assert "settings.validaton: unknown key (valid: " in said and " validation" in said.split("settings.validaton")[1]
    missing = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "nope.toml"), "--home", str(tmp_path / "h")])
    assert missing.exit_code == 2 and "config file not found" in missing.output


def test_flow_parameters_keep_what_was_given_and_the_tokens(tmp_path):
    given = RunConfig.model_validate({"github": {"languages": ["go"], "tokens": ["ghp_x"]},
                                      "settings": {"docker": {"concurrency": 3}}})
    again = RunConfig.model_validate(given.flow_parameters())
    assert again.github.model_fields_set == {"languages", "tokens"} and again.github.resolved_tokens() == ["ghp_x"]
    assert again.settings.docker.concurrency == 3 and "home" not in again.settings.model_fields_set
    assert "ghp_x" not in given.model_dump_json() and "ghp_x" not in repr(given)
    assert RunConfig.model_validate(RunConfig().flow_parameters()).github.model_fields_set == set()
    cli_made = RunConfig().with_sources([SourceConfig(kind="git", url="/r")], 4)
    assert RunConfig.model_validate(cli_made.flow_parameters()).run.max_candidates == 4


def test_the_home_comes_from_the_argument_then_the_config_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ENVMINE_HOME", str(tmp_path / "env"))
    from_file = RunConfig.model_validate({"settings": {"home": str(tmp_path / "toml")}})
    assert from_file.settings.at_home(tmp_path / "arg").home == (tmp_path / "arg").resolve()
    assert from_file.settings.at_home().home == (tmp_path / "toml").resolve()
    assert RunConfig().settings.at_home().home == (tmp_path / "env").resolve()


def test_a_bad_training_config_is_reported_by_the_cli(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text("[optim]\nlearning_rate = 1e-3\n")
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--home", str(tmp_path / "h")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "optim.learning_rate: unknown key (valid: " in said and " lr," in said


def test_a_disk_limit_that_is_not_a_size_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        Settings.load({"settings": {"validation": {"limits": {"writable_disk": "2 GB"}}}}, home=tmp_path)
    assert "settings.validation.limits.writable_disk" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Settings.load({"settings": {"docker": {"build_disk": "lots"}}}, home=tmp_path)
    assert "settings.docker.build_disk" in str(caught.value)
    assert Settings.load({"settings": {"docker": {"build_disk": "512m"}}}, home=tmp_path).docker.build_disk == "512m"

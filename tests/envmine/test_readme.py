"""The README's TOML examples are valid run configs and its commands exist in the CLI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from envmine.cli import app
from envmine.config import RunConfig

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_toml_examples_parse_as_run_configs():
    """Each block is a run config, or (a table only a training config has) a training config."""
    from envmine.rl.config import TrainConfig

    blocks = re.findall(r"```toml\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    run_blocks = 0
    for block in blocks:
        data = tomllib.loads(block)
        if set(data) <= set(RunConfig.model_fields):
            config = RunConfig.model_validate(data)
            assert config.sources or config.github.model_fields_set
            run_blocks += 1
        else:
            TrainConfig.model_validate(data)
    assert run_blocks >= 2


def test_every_envmine_command_in_the_readme_exists():
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", README, re.S))
    used = set(re.findall(r"^(?:\.venv/bin/)?envmine ([a-z]+)", shell, re.M))
    assert used >= {"run", "sql", "serve", "eval", "train", "export"}
    assert used <= commands
    for command in sorted(used):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)

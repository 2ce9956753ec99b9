"""The RL stage's one config file (TOML), as pydantic models with defaults for everything.

```toml
seed = 0
steps = 20

[model]            # kind = tiny | pretrained | gguf
kind = "tiny"

[rollout]
backend = "transformers"   # transformers | vllm | openai
format = "minimax_m2"      # minimax_m2 | openai
group_size = 8
tasks_per_step = 4

[env]
kind = "toy"               # toy | docker

[reward]                   # optional: the test reward mixed with the experts' rubric
rubric = 0.5               # 0 (default): the test reward alone
[reward.judge]             # or [settings.review] judge_endpoint / judge_model
endpoint = "http://localhost:8001/v1"
model = "judge"
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envmine.config_check import validate_config
from envmine.rl.perturb import PerturbConfig
from envmine.rl.rubric_reward import JudgeConfig, RubricWeights
from envmine.settings import read_config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Section):
    kind: Literal["tiny", "pretrained", "gguf"] = "tiny"
    path: str = ""
    """A local model folder (pretrained) or the folder holding the GGUF file."""
    gguf_file: str = ""
    hidden: int = 64
    layers: int = 2
    dtype: str = "float32"
    device: str = "cpu"


class RolloutConfig(_Section):
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    format: str = "minimax_m2"
    endpoint: str = ""
    """Base URL of an OpenAI-compatible server (backend = openai)."""
    served_model: str = ""
    thinking_field: Literal["reasoning", "reasoning_content", "content"] = "reasoning"
    """backend = openai: where earlier thinking goes back (current vLLM reads `reasoning`)."""
    max_batch: int = 64
    """Token-level backends: the most concurrent requests generated as one batch."""
    gpu_memory_utilization: float = 0.4
    """backend = vllm: share of the GPU the engine may take (the trainer holds the rest)."""
    max_model_len: int | None = None
    """backend = vllm: the engine's context length (None: the model's)."""
    group_size: int = 8
    tasks_per_step: int = 4
    concurrency: int = 8
    on_no_tool_call: Literal["nudge", "end"] = "nudge"


class LimitsConfig(_Section):
    max_turns: int = 30
    max_tokens: int = 32_768
    max_new_tokens: int = 2048
    wall_s: float = 1800.0
    temperature: float = 1.0


class EnvConfig(_Section):
    kind: Literal["toy", "docker"] = "docker"
    manifest: str = ""
    """Shard manifest from the warehouse export; empty: export the curated set now."""
    catalog_version: int | None = None
    warm_pool: int = 0
    """Sandboxes kept started per image, ready for the next episode."""
    toy_tasks: int = 16


class OptimConfig(_Section):
    lr: float = 1e-6
    weight_decay: float = 0.0
    eps_low: float = 0.2
    eps_high: float = 0.28
    kl_coef: float = 0.0
    scale_by_std: bool = False
    micro_batch: int = 4
    grad_clip: float = 1.0
    epochs_per_batch: int = 1
    minibatches: int = 1
    """Optimizer steps per epoch over one rollout batch; above 1 the ratio departs from 1 and the clip acts."""
    on_truncated: Literal["penalize", "mask", "drop"] = "penalize"
    """Rollouts cut by a limit: keep with `truncation_penalty` off their reward, count in the
    baseline but mask their tokens (DAPO overlong filtering), or drop before the baseline."""
    truncation_penalty: float = 1.0
    tis_mode: Literal["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"] = "token_truncate"
    """Truncated importance sampling against the rollout engine's log-probs (where it returns them)."""
    tis_cap: float | None = 2.0
    """The importance weight's cap; 0 (or none): uncapped."""
    chunk_tokens: int = 1024
    """Positions per chunk of the log-prob computation (peak ~ chunk x vocab x 4 bytes)."""


class CheckpointConfig(_Section):
    every: int = 50
    dir: str = ""
    """Default: <home>/rl/runs/<run name>/checkpoints."""


class RewardConfig(RubricWeights):
    """`[reward]`: the weights of `RubricWeights` and the judge model that scores the rubric."""

    judge: JudgeConfig | None = None
    """The judge (OpenAI-compatible); None: `[settings.review] judge_endpoint`/`judge_model`.
    Asked only when `rubric > 0`, and only about episodes whose score can change their reward."""
    tampering_penalty: float = 0.0
    """Subtracted from the reward of an episode whose diff changed protected paths (test files,
    runner configuration, ...; `Trajectory.tampering`). The changes are undone before grading
    either way, so tampering never pays; a penalty also teaches the policy not to try."""


class TrainConfig(_Section):
    run_name: str = "grpo"
    seed: int = 0
    steps: int = 100
    model: ModelConfig = Field(default_factory=ModelConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    perturb: PerturbConfig | None = None
    """None: the canonical scaffold; a table: a seeded perturbation per rollout."""
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    """Default: the test reward alone (`rubric = 0`)."""


def load_train_config(path: str | Path) -> TrainConfig:
    """Parse and validate a training config; unknown keys are `ConfigError`s naming the valid ones."""
    return validate_config(TrainConfig, read_config(path), where=str(path))

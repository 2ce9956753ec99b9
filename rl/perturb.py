"""Seeded, recorded perturbations of the scaffold, so a policy generalises across scaffolds.

A `Perturbation` is drawn from (config, seed) alone — the same seed gives the same choices
on any machine — and is a plain dict when recorded, so results can be sliced by it. It
varies the tool specs (names, descriptions, order, parameter names), the system prompt, the
user prompt (rephrased, noisy) and the tools' answers (truncation, noise, transient errors).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict

from envmine.rl import prompts
from envmine.rl.scaffold import EpisodeSetup
from envmine.rl.tools import DEFAULT_TOOLS, ToolBox, ToolSpec
from envmine.rl.types import ToolResult

READ_ONLY_TOOLS = frozenset({"view", "search"})
"""Transient errors only hit tools whose retry is harmless."""


class PerturbConfig(BaseModel):
    """Which parts of the scaffold vary, and how much."""

    model_config = ConfigDict(extra="forbid")

    tools: bool = True
    system: bool = True
    user: bool = True
    responses: bool = True
    typo_rate: float = 0.02
    """Share of words in the issue text that get a typo (when user noise is drawn)."""
    truncate_chars: int = 2000
    """Tool answers longer than this are cut (when truncation is drawn)."""
    noise_rate: float = 0.05
    """Share of answer lines followed by a noise line (when noise is drawn)."""
    error_rate: float = 0.1
    """Chance that a read-only tool call answers with a transient error (when drawn)."""


@dataclass
class Perturbation:
    seed: int
    system_variant: int = 0
    user_variant: int = 0
    user_typos: float = 0.0
    """Share of words given a typo (0: none)."""
    tool_order: list[str] = field(default_factory=list)
    tool_names: dict[str, str] = field(default_factory=dict)
    tool_descriptions: dict[str, int] = field(default_factory=dict)
    param_names: dict[str, str] = field(default_factory=dict)
    truncate_chars: int = 0
    noise_rate: float = 0.0
    error_rate: float = 0.0

    @property
    def name(self) -> str:
        return f"perturb:{self.seed}"

    def record(self) -> dict[str, Any]:
        return asdict(self)


NONE = Perturbation(seed=-1)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def draw(config: PerturbConfig, seed: int) -> Perturbation:
    """The perturbation for `seed`: every choice comes from this seed's own generator."""
    rng = _rng("perturb", seed)
    p = Perturbation(seed=seed)
    if config.system:
        p.system_variant = rng.randrange(len(prompts.SYSTEM_VARIANTS))
    if config.user:
        p.user_variant = rng.randrange(len(prompts.USER_VARIANTS))
        p.user_typos = config.typo_rate if rng.random() < 0.5 else 0.0
    if config.tools:
        p.tool_order = [t.name for t in DEFAULT_TOOLS]
        rng.shuffle(p.tool_order)
        p.tool_names = {k: rng.choice(v) for k, v in prompts.TOOL_NAME_VARIANTS.items()}
        p.tool_descriptions = {k: rng.randrange(len(v) + 1) for k, v in prompts.TOOL_DESCRIPTION_VARIANTS.items()}
        p.param_names = {k: rng.choice(v) for k, v in prompts.PARAM_NAME_VARIANTS.items()}
    if config.responses:
        p.truncate_chars = config.truncate_chars if rng.random() < 0.5 else 0
        p.noise_rate = config.noise_rate if rng.random() < 0.5 else 0.0
        p.error_rate = config.error_rate if rng.random() < 0.5 else 0.0
    return p


def toolbox(p: Perturbation, base: ToolBox | None = None) -> ToolBox:
    """The tool specs as this perturbation shows them, with the map back to canonical names."""
    base = base or ToolBox()
    by_name = {s.key: s for s in base.specs}
    order = p.tool_order or list(by_name)
    specs, aliases = [], {}
    for key in order:
        spec = by_name[key]
        variants = (spec.description, *prompts.TOOL_DESCRIPTION_VARIANTS.get(key, ()))
        description = variants[p.tool_descriptions.get(key, 0)]
        params = tuple(replace(q, name=p.param_names.get(q.name, q.name)) for q in spec.params)
        aliases[key] = {shown.name: q.name for shown, q in zip(params, spec.params)}
        specs.append(ToolSpec(p.tool_names.get(key, key), description, params, canonical=key))
    return ToolBox(specs=specs, param_aliases=aliases, timeout_s=base.timeout_s,
                   max_output_chars=base.max_output_chars)


def user_prompt(p: Perturbation, problem: str, language: str) -> str:
    text = _typos(problem, p.seed, p.user_typos) if p.user_typos else problem
    return prompts.render(prompts.USER_VARIANTS[p.user_variant], problem=text, language=language or "software")


def system_prompt(p: Perturbation) -> str:
    return prompts.SYSTEM_VARIANTS[p.system_variant]


def observe(p: Perturbation, result: ToolResult, turn: int) -> ToolResult:
    """A tool's answer as this perturbation delivers it (seeded by turn and call)."""
    rng = _rng("observe", p.seed, turn, result.call.id, result.call.name)
    canonical = next((k for k, v in p.tool_names.items() if v == result.call.name), result.call.name)
    if p.error_rate and canonical in READ_ONLY_TOOLS and rng.random() < p.error_rate:
        return replace(result, output=rng.choice(prompts.TRANSIENT_ERRORS), error=True)
    output = result.output
    if p.noise_rate:
        output = "\n".join(line + (f"\n{_noise_line(rng)}" if rng.random() < p.noise_rate else "")
                           for line in output.split("\n"))
    if p.truncate_chars and len(output) > p.truncate_chars:
        output = output[:p.truncate_chars] + f"\n[output truncated at {p.truncate_chars} characters]"
    return replace(result, output=output)


def setup_for(instance: Any, p: Perturbation | None = None, base: ToolBox | None = None,
              on_no_tool_call: str = "nudge") -> EpisodeSetup:
    """The episode setup for `instance` under `p` (None: the canonical scaffold)."""
    p = p or NONE
    problem, language = instance.problem_statement, getattr(instance, "language", "")
    return EpisodeSetup(
        system=system_prompt(p), user=user_prompt(p, problem, language), toolbox=toolbox(p, base),
        observe=(lambda r, turn: observe(p, r, turn)) if p is not NONE else None,
        perturbation=p.record() if p is not NONE else {},
        perturbation_name=p.name if p is not NONE else "", on_no_tool_call=on_no_tool_call)


def _typos(text: str, seed: int, rate: float) -> str:
    rng = _rng("typos", seed)
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def _noise_line(rng: random.Random) -> str:
    return rng.choice(("", "  ", "[debug] heartbeat ok", "\t", "# note: output may be incomplete"))


"""RL stage: environment API, agent scaffold, perturbations, rollouts, reward, GRPO, evaluation.

Modules (nothing runs at import time; torch, transformers and vLLM load only where used):

- `shards`     the curated set's Parquet shards as a deterministic, resumable IterableDataset
- `env`        the Docker environment (reset/step/grade/close, async) and its warm pool
- `tools`      bash, view, replace, search, submit: specs (data) and execution in a sandbox
- `formats/`   MiniMax-M2 and OpenAI-style chat formats: render and parse, round-trip
- `scaffold`   the episode loop with interleaved thinking; token ids per turn + loss mask
- `perturb`    seeded, recorded variations of tools, prompts and tool answers (`prompts`: texts)
- `backends/`  transformers (CPU/GPU), vLLM (GPU, lazy), OpenAI-compatible endpoints, scripted
- `reward`     the agent's diff graded in a fresh container with the validators' grader
- `grpo`       leave-one-out advantages, clip-higher, token-level loss, filtering, alarm
- `train`      the one readable training script (`train(config_path, home)`), config in `config`
- `evaluate`   pass@1 / pass@k per language and perturbation, Evaluation rows to the catalog
- `policies`   the gold policy and scripted policies; `toy`/`tiny` for tests and benchmarks
"""

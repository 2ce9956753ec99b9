"""Test support shared by tests/ and bench/: fakes of outside services (a GitHub that answers
like GitHub) and small real fixtures (images, repositories, tasks, engines, clusters).
Installed with envmine so both import it by name (`from envmine.testing import pyrepos`), and
scripts run as subprocesses need no `sys.path` edits; the pipeline itself never imports it.

- `fake_github`, `github_world`: a local GitHub (REST + GraphQL) and the data it serves.
- `pyrepos`, `langrepos`: small git repositories with a bug fix, in Python and per language.
- `scenarios`, `validator_images`: the validators' repositories, candidates and test images.
- `rl_task`: a validated task built into an image, for the RL stage.
- `attacks`: reward attacks shared by the attack suite and the reward-integrity benchmark.
- `lake_records`: small, fully specified catalog records.
- `second_engine`: a second Docker engine on this machine (multi-host tests and benchmarks).
- `net`: a free port, and waiting until a local server answers HTTP.
- `executor_clusters`: real local Ray and Dask clusters (executor tests and benchmarks).
"""

"""Benchmark: how long one test run of a compiled language takes in its task image, when the
task layer's compiled tree is kept fresh (now) and as the task layer was built before issue 10.

    .venv/bin/python bench/task_rebuild.py --repo jbeder/yaml-cpp --language cpp \
        --baseline 503a51a~1 --home /tmp/envmine-bench-rebuild --out bench/results/task_rebuild.json

For one real repository (a bare snapshot under `--mirror-root`, as in bench/languages.py), the
script mines its newest code+test candidate, plans and builds its environment with this
checkout (`plan_env`, `build_env`: the task layer configures with the tests on and compiles
once), then builds the same task layer from the `--baseline` commit's task template over the
same repo layer, side by side. In each image it runs the task's test command once as the
sandbox user with no network, at the base commit and with the test patch and the gold patch
applied (the validation's `after` run), and reports each run's wall time and how many objects
the build step compiled (`Building C/CXX object` lines; `Compiling` for Cargo).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jinja2

from envmine.builders import checkout, engine
from envmine.builders.base import SANDBOX_UID
from envmine.builders.build import build_env
from envmine.builders.plan import plan_env
from envmine.builders.render import layer_tag
from envmine.git import git
from envmine.miners.clone import ensure_clone
from envmine.miners.git_source import mine_git
from envmine.records import Candidate, EnvSpec, LayerSpec
from envmine.settings import Settings
from languages import local_source  # bench/languages.py: this script's folder is first on sys.path

HERE = Path(__file__).resolve().parent

TEMPLATE = "builders/templates/lang/task.Dockerfile.j2"
COMPILED = re.compile(r"Building (C|CXX) object|^\s*Compiling \S+ v", re.M)


def baseline_task_layer(spec: EnvSpec, commit: str, repo_root: Path, user: str) -> LayerSpec:
    """The task layer of `spec` rendered from the task template as it was at `commit`."""
    text = git(["-C", str(repo_root), "show", f"{commit}:{TEMPLATE}"]).stdout
    task = spec.layers[-1]
    prepare = _prepare_steps(task.dockerfile)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    dockerfile = env.from_string(text).render(
        parent=task.parent, language=spec.language, repo=spec.repo, base_commit=spec.base_commit,
        user=user, prepare=prepare, resolved_command="")
    return LayerSpec(name="task", dockerfile=dockerfile, parent=task.parent,
                     tag=layer_tag("task-baseline", dockerfile, {}, task.parent))


def _prepare_steps(dockerfile: str) -> list[str]:
    """The prepare commands of a rendered task Dockerfile (between the index refreshes)."""
    body = dockerfile.split("git update-index -q --refresh > /dev/null; \\\n    ", 1)[1]
    body = body.split(" \\\n && { git update-index", 1)[0]
    return body.split(" \\\n && ")


def build_baseline(layer: LayerSpec, spec: EnvSpec, settings: Settings) -> float:
    """Build the baseline task image (reused when present); its build seconds (0 when reused)."""
    if engine.image_exists(layer.tag):
        return 0.0
    mirror = ensure_clone(spec.toolchain["repo_url"], settings.cache_dir, needs=spec.base_commit)
    tar = checkout.testbed_tar(mirror, spec.base_commit, SANDBOX_UID, settings.cache_dir / "testbeds")
    outcome = engine.build_image(layer.tag, layer.dockerfile, {"testbed.tar": tar},
                                 timeout_s=settings.docker.build_timeout_s)
    if not outcome.ok:
        raise SystemExit(f"baseline task layer failed: {outcome.error}\n{outcome.log[-3000:]}")
    return outcome.duration_s


def timed_run(image: str, test_command: str, patch: str) -> dict[str, object]:
    """One test run in a fresh container (sandbox user, no network), `patch` applied first."""
    script = ("set -e; if [ -s /tmp/patch.diff ]; then git apply --whitespace=nowarn /tmp/patch.diff; fi; "
              "mkdir -p /tmp/envmine-results; set +e; " + test_command)
    started = time.monotonic()
    proc = subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", "none", "--user", str(SANDBOX_UID), "-w", "/testbed",
         "-e", "HOME=/tmp", image, "bash", "-c", f"cat > /tmp/patch.diff; {script}"],
        input=patch, capture_output=True, text=True)
    seconds = round(time.monotonic() - started, 1)
    output = proc.stdout + proc.stderr
    return {"seconds": seconds, "exit_code": proc.returncode, "compiled": len(COMPILED.findall(output)),
            "tail": output[-600:]}


def measure(candidate: Candidate, settings: Settings, baseline: str) -> dict[str, object]:
    spec = plan_env(candidate, settings)
    if not isinstance(spec, EnvSpec):
        raise SystemExit(f"not planned: {spec.reason}: {spec.detail}")
    started = time.monotonic()
    builds, reject = build_env(spec, settings)
    if reject is not None:
        raise SystemExit(f"not built: {reject.reason}: {reject.detail[-2000:]}")
    result = {"instance_id": candidate.instance_id, "base_commit": candidate.base_commit,
              "build_s": round(time.monotonic() - started, 1),
              "layers": {b.layer: str(b.status) for b in builds}, "runs": {}}
    old = baseline_task_layer(spec, baseline, HERE.parent, settings.docker.sandbox_user)
    result["baseline_build_s"] = build_baseline(old, spec, settings)
    both = candidate.test_patch + candidate.patch
    for label, image in (("baseline", old.tag), ("now", spec.image)):
        for phase, patch in (("base", ""), ("after", both)):
            run = timed_run(image, spec.test_command, patch)
            result["runs"][f"{label}/{phase}"] = run
            print(f"{label:9s} {phase:6s} {run['seconds']:7.1f} s  compiled {run['compiled']:4d}"
                  f"  exit {run['exit_code']}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="owner/name of a snapshot under --mirror-root")
    parser.add_argument("--language", required=True)
    parser.add_argument("--baseline", required=True, help="envmine commit whose task template is the baseline")
    parser.add_argument("--home", type=Path, default=Path("/tmp/envmine-bench-rebuild"))
    parser.add_argument("--mirror-root", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings.load(home=args.home)
    source = local_source(args.repo, args.mirror_root, settings.home)
    mined = mine_git(str(source), settings, max_candidates=1, language=args.language)
    if not mined.candidates:
        raise SystemExit(f"no candidate in {args.repo}: {[r.reason for r in mined.rejects][:5]}")
    result = {"repo": args.repo, "baseline": args.baseline, **measure(mined.candidates[0], settings, args.baseline)}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

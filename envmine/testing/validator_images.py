"""Small, self-contained test images for the validator's Docker tests.

A toolchain image (Debian + python3 + pytest + git + the non-root `envmine` user) and, per
scenario, a task image FROM it whose /testbed is a one-commit git repository. The commit is
made with fixed names and dates so its hash equals the one `make_repo` computes on the host.
"""

from __future__ import annotations

from pathlib import Path

from envmine.builders.engine import build_image, image_exists
from envmine.git import git as run_git
from envmine.records import content_key

TOOLCHAIN_DOCKERFILE = """\
FROM {os_image}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      python3 python3-pytest git patch >/dev/null \\
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 envmine
"""

TASK_DOCKERFILE = """\
FROM {parent}
COPY repo /testbed
RUN cd /testbed && git init -q -b main \\
 && git add -A \\
 && GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z \\
    git -c user.name=envmine -c user.email=envmine@localhost commit -q -m base \\
 && chown -R envmine:envmine /testbed
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "envmine", "GIT_AUTHOR_EMAIL": "envmine@localhost",
    "GIT_COMMITTER_NAME": "envmine", "GIT_COMMITTER_EMAIL": "envmine@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def toolchain_image(os_image: str) -> str:
    """Build (once; reused while the Dockerfile is unchanged) the Python test toolchain image."""
    dockerfile = TOOLCHAIN_DOCKERFILE.format(os_image=os_image)
    tag = f"envmine-test/validators-py:{content_key(dockerfile)}"
    if not image_exists(tag):
        outcome = build_image(tag, dockerfile, timeout_s=900)
        if not outcome.ok:
            raise RuntimeError(f"toolchain image failed: {outcome.error}\n{outcome.log[-3000:]}")
    return tag


def task_image(parent: str, files: dict[str, str], extra: str = "") -> str:
    """A task image whose /testbed holds `files` in one commit (`extra`: more Dockerfile lines)."""
    dockerfile = TASK_DOCKERFILE.format(parent=parent) + extra
    context = {f"repo/{path}": text for path, text in files.items()}
    tag = f"envmine-test/validators-task:{content_key(dockerfile, *sorted(f'{k}={v}' for k, v in files.items()))}"
    if not image_exists(tag):
        outcome = build_image(tag, dockerfile, context, timeout_s=300)
        if not outcome.ok:
            raise RuntimeError(f"task image failed: {outcome.error}\n{outcome.log[-3000:]}")
    return tag


def git(repo: Path, *args: str) -> str:
    return run_git(["-C", str(repo), *args], env=GIT_ENV).stdout


def make_repo(root: Path, files: dict[str, str]) -> str:
    """A host repository with `files` committed exactly as the task image commits them."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "-c", "user.name=envmine", "-c", "user.email=envmine@localhost", "commit", "-q", "-m", "base")
    return git(root, "rev-parse", "HEAD").strip()


def write_files(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def diff_of(root: Path, files: dict[str, str], paths: list[str] | None = None) -> str:
    """The `git diff` that turns the committed tree into one with `files` written (then undone)."""
    write_files(root, files)
    git(root, "add", "-A")
    diff = git(root, "diff", "--cached", "--", *(paths or []))
    git(root, "reset", "-q", "--hard", "HEAD")
    return diff

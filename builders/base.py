"""Base images: the Debian root filesystem (debootstrap + import) and the envmine base layer.

The OS image is content-addressed on (suite, mirror); the base layer on top adds the extra CA
bundle, git, coreutils and the sandbox user, and its tag covers the bundle's content.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from envmine.builders import engine
from envmine.builders.render import TAG_PREFIX, make_layer
from envmine.records import LayerSpec, content_key
from envmine.settings import Settings

SANDBOX_UID = 1000
CA_BUNDLE_PATH = "/etc/ssl/certs/envmine-ca-bundle.crt"
BASE_PACKAGES = ("ca-certificates", "coreutils", "git")
DEBOOTSTRAP_TIMEOUT_S = 1800


class BaseImageError(RuntimeError):
    """debootstrap or the import of its root filesystem failed."""


def os_image_tag(settings: Settings) -> str:
    """The OS image's tag: the configured registry image, else `envmine/os:<suite>-<hash>`."""
    docker = settings.docker
    if docker.base_image:
        return docker.base_image
    digest = content_key(docker.base_suite, docker.debian_mirror, length=12)
    return f"{TAG_PREFIX}/os:{docker.base_suite}-{digest}"


def ensure_base_image(settings: Settings, on_line: Callable[[str], None] | None = None) -> str:
    """The OS image tag, built with debootstrap and imported when it is missing.

    A configured `settings.docker.base_image` is used as is (it must be present or pullable by
    the engine); an existing local image with the content-addressed tag is reused.
    """
    tag = os_image_tag(settings)
    if settings.docker.base_image or engine.image_exists(tag):
        return tag
    build_os_image(tag, settings.docker.base_suite, settings.docker.debian_mirror,
                   settings.cache_dir, on_line)
    return tag


def build_os_image(tag: str, suite: str, mirror: str, work_dir: Path,
                   on_line: Callable[[str], None] | None = None) -> None:
    """`debootstrap --variant=minbase` into a temporary folder, then import it as `tag`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=work_dir))
    try:
        _debootstrap(suite, rootfs, mirror, on_line)
        engine.import_rootfs(tag, _tar_rootfs(rootfs))
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    if on_line:
        on_line(f"imported {tag}")


def _debootstrap(suite: str, rootfs: Path, mirror: str, on_line: Callable[[str], None] | None) -> None:
    cmd = ["debootstrap", "--variant=minbase", suite, str(rootfs), mirror]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BaseImageError(f"debootstrap {suite} failed: {exc}") from exc
    if on_line:
        for line in proc.stdout.splitlines()[-20:]:
            on_line(line)
    if proc.returncode != 0:
        raise BaseImageError(f"debootstrap {suite} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    # apt caches are not part of an image
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _tar_rootfs(rootfs: Path) -> bytes:
    proc = subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                          capture_output=True, timeout=DEBOOTSTRAP_TIMEOUT_S)
    if proc.returncode != 0:
        raise BaseImageError(f"tar of the root filesystem failed: {proc.stderr[-2000:]!r}")
    return proc.stdout


def read_ca_bundle(settings: Settings) -> str:
    """The extra CA bundle's text (configured file, else the host's system bundle; may be "")."""
    path = settings.docker.resolved_ca_bundle()
    return path.read_text() if path else ""


def base_layer(settings: Settings, ca_bundle: str) -> LayerSpec:
    """The base layer over the OS image; `ca_bundle` is PEM text (part of the tag)."""
    return make_layer(
        "base", "base.Dockerfile.j2", os_image_tag(settings),
        context_files={"envmine-extra.crt": ca_bundle},
        packages=list(BASE_PACKAGES), ca_file="envmine-extra.crt", ca_bundle=CA_BUNDLE_PATH,
        uid=SANDBOX_UID, user=settings.docker.sandbox_user,
    )

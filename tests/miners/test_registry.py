"""Registry release histories against a tiny fake PyPI served by pytest-httpserver."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from datetime import datetime, timezone

import pytest

from envmine.miners.pypi_source import parse_pypi, pypi_source
from envmine.miners.archives import extract
from envmine.miners.registry import mine_package, mine_registry
from envmine.miners.registry_http import RegistryError
from envmine.miners.semver import stable_semver

CORE_BUG = "def clamp(x, lo, hi):\n    return max(lo, x)\n"
CORE_FIX = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"
TEST_1 = "from minipkg.core import clamp\n\n\ndef test_low():\n    assert clamp(-1, 0, 5) == 0\n"
TEST_2 = TEST_1 + "\n\ndef test_high():\n    assert clamp(9, 0, 5) == 5\n"
CHANGES = """Changelog
=========

1.0.2
-----

- Packaging only.

1.0.1
-----

- ``clamp()`` now respects the upper bound (it returned values above ``hi``).

1.0.0
-----

- First release.
"""


def sdist(version: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        base = {"PKG-INFO": f"Metadata-Version: 2.1\nName: minipkg\nVersion: {version}\n",
                "minipkg.egg-info/SOURCES.txt": "minipkg/core.py\n",
                "minipkg/__init__.py": f'__version__ = "{version}"\n'}
        for name, text in {**base, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"minipkg-{version}/{name}")
            info.size, info.mtime = len(data), 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


RELEASES = {
    "1.0.0": {"minipkg/core.py": CORE_BUG, "tests/test_core.py": TEST_1, "CHANGES.rst": CHANGES},
    "1.0.1": {"minipkg/core.py": CORE_FIX, "tests/test_core.py": TEST_2, "CHANGES.rst": CHANGES,
              "docs/index.rst": "minipkg\n=======\n"},
    "1.0.2": {"minipkg/core.py": CORE_FIX, "tests/test_core.py": TEST_2 + "# more\n",
              "CHANGES.rst": CHANGES, "docs/index.rst": "minipkg\n=======\n"},
    "1.0.3": {"minipkg/core.py": CORE_FIX + "\n\ndef twice(x):\n    return 2 * x\n",
              "tests/test_core.py": TEST_2 + "# twice\n", "CHANGES.rst": CHANGES},
}


def uploaded(version: str) -> str:
    day = int(version.replace(".", "")) % 28 + 1
    return f"2024-03-{day:02d}T10:00:00.000000Z"


@pytest.fixture
def fake_pypi(httpserver):
    releases = {}
    for version, files in RELEASES.items():
        data = sdist(version, files)
        path = f"/packages/aa/bb/minipkg-{version}.tar.gz"
        httpserver.expect_request(path).respond_with_data(data, content_type="application/gzip")
        releases[version] = [{
            "packagetype": "sdist", "filename": f"minipkg-{version}.tar.gz",
            # relative, like the PyPI mirror this project runs behind
            "url": f"../../packages/aa/bb/minipkg-{version}.tar.gz",
            "upload_time_iso_8601": uploaded(version), "yanked": False,
            "digests": {"sha256": hashlib.sha256(data).hexdigest()},
        }]
    wheel = {"packagetype": "bdist_wheel", "filename": "minipkg-1.1.0-py3-none-any.whl",
             "url": "/x.whl", "upload_time_iso_8601": uploaded("1.1.0"), "yanked": False}
    releases["1.1.0"] = [wheel]
    releases["2.0.0rc1"] = [dict(wheel, packagetype="sdist", filename="rc.tar.gz")]
    releases["1.0.9"] = [dict(wheel, packagetype="sdist", yanked=True)]
    httpserver.expect_request("/pypi/minipkg/json").respond_with_json({"releases": releases})
    return httpserver


def _tags(path):
    out = subprocess.run(["git", "-C", str(path), "tag", "--list"], capture_output=True, text=True)
    return out.stdout.split()


def test_release_history_mines_a_fix_with_its_changelog(fake_pypi, settings):
    result = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", settings, max_releases=8)

    assert result.repo.repo == "pypi/minipkg"
    assert result.repo.source == "pypi"
    assert result.repo.language == "python"
    assert result.repo.meta["versions"] == "1.0.0 1.0.1 1.0.2 1.0.3"
    assert _tags(result.repo.url) == ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]
    files = subprocess.run(["git", "-C", result.repo.url, "ls-files"], capture_output=True,
                           text=True).stdout.split()
    assert "PKG-INFO" not in files and not any("egg-info" in f for f in files)

    assert [c.instance_id for c in result.candidates] == ["pypi__minipkg-1.0.1"]
    cand = result.candidates[0]
    assert cand.repo == "pypi/minipkg" and cand.source == "pypi"
    assert cand.repo_url == result.repo.url
    assert cand.problem_statement == (
        "- ``clamp()`` now respects the upper bound (it returned values above ``hi``)."
    )
    assert cand.created_at == datetime(2024, 3, 18, 10, 0, tzinfo=timezone.utc)
    assert cand.patch_files == ["minipkg/__init__.py", "minipkg/core.py"]  # docs/, CHANGES dropped
    assert cand.test_files == ["tests/test_core.py"]
    assert "+    return max(lo, min(x, hi))" in cand.patch
    assert cand.provenance["version"] == "1.0.1"
    assert cand.provenance["previous_version"] == "1.0.0"
    rev = subprocess.run(["git", "-C", result.repo.url, "rev-parse", "1.0.0", "1.0.1"],
                         capture_output=True, text=True).stdout.split()
    assert [cand.base_commit, cand.head_commit] == rev

    reasons = {r.subject: (r.reason, r.detail.split(": ", 1)[1]) for r in result.rejects}
    assert reasons == {
        "pypi__minipkg-1.0.3": ("empty_problem_statement", "no message, changelog or issue text"),
        "pypi__minipkg-1.0.2": ("no_code_change", "source changes are blank or version lines only"),
        "pypi__minipkg-1.0.0": ("root_commit", "root commit has no parent to diff against"),
        "pypi__minipkg-1.1.0": ("no_sdist", "only bdist_wheel"),
    }


def test_rerun_reuses_downloads_and_layout(fake_pypi, settings):
    first = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", settings)
    downloads = sum(1 for req, _ in fake_pypi.log if req.path.endswith(".tar.gz"))
    second = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", settings)
    assert sum(1 for req, _ in fake_pypi.log if req.path.endswith(".tar.gz")) == downloads == 4
    assert [c.model_dump(exclude={"created_at"}) for c in second.candidates] == [
        c.model_dump(exclude={"created_at"}) for c in first.candidates
    ]
    assert second.repo.url == first.repo.url


def test_layout_is_deterministic_across_caches(fake_pypi, settings, tmp_path):
    from envmine.settings import Settings

    other = Settings(home=tmp_path / "other-home")
    a = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", settings).candidates[0]
    b = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", other).candidates[0]
    assert (a.base_commit, a.head_commit) == (b.base_commit, b.head_commit)


def test_max_releases_window(fake_pypi, settings):
    result = mine_registry(pypi_source(fake_pypi.url_for("/")), "minipkg", settings, max_releases=2)
    # newest two stable releases: 1.0.3 and 1.1.0 (wheel only) -> one archive, nothing to diff
    assert result.repo.meta["versions"] == "1.0.3"
    assert [r.reason for r in result.rejects] == ["root_commit", "no_sdist"]


def test_missing_package_is_a_non_retryable_error(httpserver, settings):
    httpserver.expect_request("/pypi/nope/json").respond_with_data("not found", status=404)
    with pytest.raises(RegistryError) as err:
        mine_registry(pypi_source(httpserver.url_for("/")), "nope", settings)
    assert err.value.retryable is False
    assert "404" in str(err.value)


def test_server_errors_are_retryable(httpserver, settings):
    httpserver.expect_request("/pypi/flaky/json").respond_with_data("oops", status=503)
    with pytest.raises(RegistryError) as err:
        mine_registry(pypi_source(httpserver.url_for("/")), "flaky", settings)
    assert err.value.retryable is True


def test_unreachable_registry_is_retryable(settings):
    with pytest.raises(RegistryError, match="ConnectError") as err:
        mine_registry(pypi_source("http://127.0.0.1:9"), "x", settings)
    assert err.value.retryable is True


def test_digest_mismatch_and_broken_archives_are_skipped(fake_pypi, settings):
    document = {"releases": {
        "1.0.0": [{"packagetype": "sdist", "filename": "minipkg-1.0.0.tar.gz",
                   "url": fake_pypi.url_for("/packages/aa/bb/minipkg-1.0.0.tar.gz"),
                   "upload_time_iso_8601": uploaded("1.0.0"), "digests": {"sha256": "0" * 64}}],
        "1.0.1": [{"packagetype": "sdist", "filename": "broken-1.0.1.tar.gz",
                   "url": fake_pypi.url_for("/broken.tar.gz"),
                   "upload_time_iso_8601": uploaded("1.0.1")}],
        "1.0.2": [{"packagetype": "sdist", "filename": "gone-1.0.2.tar.gz",
                   "url": fake_pypi.url_for("/gone.tar.gz"),
                   "upload_time_iso_8601": uploaded("1.0.2")}],
    }}
    fake_pypi.expect_request("/broken.tar.gz").respond_with_data(b"not a tarball")
    fake_pypi.expect_request("/gone.tar.gz").respond_with_data("gone", status=404)
    fake_pypi.expect_request("/pypi/bad/json").respond_with_json(document)
    result = mine_registry(pypi_source(fake_pypi.url_for("/")), "bad", settings)
    assert result.candidates == []
    details = sorted((r.subject, r.reason, r.detail) for r in result.rejects)
    assert [d[:2] for d in details] == [("pypi__bad-1.0.0", "source_error"),
                                       ("pypi__bad-1.0.1", "source_error"),
                                       ("pypi__bad-1.0.2", "source_error")]
    assert "digest mismatch" in details[0][2]
    assert details[1][2] == "1.0.1: unreadable archive"
    assert "404" in details[2][2]


def test_parse_pypi_orders_by_version_not_by_text():
    files = lambda v: [{"packagetype": "sdist", "filename": f"p-{v}.tar.gz", "url": f"/p-{v}.tar.gz",
                        "upload_time_iso_8601": "2020-01-01T00:00:00Z"}]
    doc = {"releases": {v: files(v) for v in ["1.10.0", "1.9.0", "1.2.0", "2.0.0.dev1", "1.11.0b1"]}}
    listing = parse_pypi(doc, "https://pypi.example/pypi/p/json", 2)
    assert [r.version for r in listing.releases] == ["1.9.0", "1.10.0"]
    assert listing.releases[0].url == "https://pypi.example/p-1.9.0.tar.gz"


def test_stable_semver():
    assert stable_semver("1.2.3") == (1, 2, 3)
    assert stable_semver("v2.0.0+incompatible") == (2, 0, 0)
    assert stable_semver("1.0.0-rc.1") is None
    assert stable_semver("v0.0.0-20200101000000-abcdefabcdef") is None


def test_extract_refuses_path_traversal_and_drops_metadata(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ["pkg-1/ok.py", "pkg-1/PKG-INFO", "pkg-1/../../evil.py", "pkg-1/a.egg-info/x"]:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    archive = tmp_path / "pkg-1.tar.gz"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "tree"
    dest.mkdir()
    extract(archive, dest, ("PKG-INFO", "*.egg-info", "*.egg-info/*"))
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["ok.py"]
    assert not (tmp_path / "evil.py").exists()


@pytest.mark.network
def test_real_pypi_iniconfig(settings):
    result = mine_package("pypi", "iniconfig", settings, max_releases=4)
    assert result.repo.repo == "pypi/iniconfig"
    assert len(result.candidates) + len(result.rejects) >= 4
    for cand in result.candidates:
        assert cand.test_files and cand.patch_files and cand.problem_statement


def test_registry_sources_by_name():
    from envmine.miners.registry import get_source

    assert [get_source(k).kind for k in ("pypi", "npm", "crates", "gomod")] == [
        "pypi", "npm", "crates", "gomod"]
    with pytest.raises(KeyError, match="known: crates, gomod, npm, pypi"):
        get_source("rubygems")

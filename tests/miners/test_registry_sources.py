"""npm, crates.io and Go module proxy histories against fake registries (pytest-httpserver)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import zipfile

import pytest

from envmine.miners.crates_source import crates_source, index_path
from envmine.miners.gomod_source import escape_module, gomod_source
from envmine.miners.npm_source import npm_source
from envmine.miners.registry import mine_registry


def targz(prefix: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zipped(prefix: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"{prefix}/{name}", text)
    return buf.getvalue()


def releases(code: str, test: str, changelog: str, manifest) -> dict[str, dict[str, str]]:
    """1.0.0 (buggy), 1.0.1 (fix + test + changelog), 1.0.2 (manifest bump + test only)."""
    notes = "# Changes\n\n## 1.0.2\n\n- Tests only.\n\n## 1.0.1\n\n" + changelog + "\n\n## 1.0.0\n\n- First.\n"
    return {
        "1.0.0": {**code[0], **test[0], **manifest("1.0.0"), "CHANGELOG.md": notes},
        "1.0.1": {**code[1], **test[1], **manifest("1.0.1"), "CHANGELOG.md": notes},
        "1.0.2": {**code[1], **{k: v + "\n" for k, v in test[1].items()}, **manifest("1.0.2"),
                  "CHANGELOG.md": notes},
    }


def check(result, instance_id, patch_files, test_files, language):
    assert result.repo.language == language
    assert [c.instance_id for c in result.candidates] == [instance_id]
    cand = result.candidates[0]
    assert cand.patch_files == patch_files
    assert cand.test_files == test_files
    assert cand.problem_statement == "- Fix the off-by-one in `last()`."
    assert cand.language == language
    reasons = {r.subject.rsplit("-", 1)[1].lstrip("v"): r.reason for r in result.rejects}
    assert reasons == {"1.0.2": "no_code_change", "1.0.0": "root_commit"}
    files = subprocess.run(["git", "-C", result.repo.url, "ls-files"], capture_output=True,
                           text=True).stdout.split()
    return files


def test_npm_history(httpserver, settings):
    rel = releases(
        code=[{"index.js": "exports.last = (a) => a[a.length - 2];\n"},
              {"index.js": "exports.last = (a) => a[a.length - 1];\n"}],
        test=[{"test/last.test.js": "test('x', () => {});\n"},
              {"test/last.test.js": "test('x', () => {});\ntest('last', () => {});\n"}],
        changelog="- Fix the off-by-one in `last()`.",
        manifest=lambda v: {"package.json": json.dumps({"name": "tiny-last", "version": v}) + "\n"},
    )
    doc = {"name": "tiny-last", "versions": {}, "time": {"modified": "2024-05-01T00:00:00.000Z"}}
    for i, (version, files) in enumerate(rel.items()):
        data = targz("package", files)
        path = f"/tiny-last/-/tiny-last-{version}.tgz"
        httpserver.expect_request(path).respond_with_data(data)
        doc["versions"][version] = {"dist": {"tarball": httpserver.url_for(path),
                                             "shasum": hashlib.sha1(data).hexdigest()}}
        doc["time"][version] = f"2024-04-0{i + 1}T12:00:00.000Z"
    doc["versions"]["2.0.0-beta.1"] = {"dist": {"tarball": "/x.tgz"}}
    doc["time"]["2.0.0-beta.1"] = "2024-04-20T00:00:00.000Z"
    doc["versions"]["0.9.0"] = {"dist": {"tarball": "/y.tgz"}, "deprecated": "broken"}
    doc["time"]["0.9.0"] = "2024-03-01T00:00:00.000Z"
    httpserver.expect_request("/tiny-last").respond_with_json(doc)

    result = mine_registry(npm_source(httpserver.url_for("/")), "tiny-last", settings)
    assert result.repo.repo == "npm/tiny-last" and result.repo.source == "npm"
    check(result, "npm__tiny-last-1.0.1", ["index.js", "package.json"], ["test/last.test.js"], "javascript")


def test_crates_history(httpserver, settings):
    rel = releases(
        code=[{"src/lib.rs": "pub fn last(a: &[u8]) -> u8 { a[a.len() - 2] }\n"},
              {"src/lib.rs": "pub fn last(a: &[u8]) -> u8 { a[a.len() - 1] }\n"}],
        test=[{"tests/it.rs": "#[test]\nfn a() {}\n"},
              {"tests/it.rs": "#[test]\nfn a() {}\n#[test]\nfn last() {}\n"}],
        changelog="- Fix the off-by-one in `last()`.",
        manifest=lambda v: {"Cargo.toml": f'[package]\nname = "tinylast"\nversion = "{v}"\n',
                            "Cargo.toml.orig": f'[package]\nversion = "{v}"\n',
                            ".cargo_vcs_info.json": '{"git": {"sha1": "abc"}}\n'},
    )
    lines = []
    for i, (version, files) in enumerate(rel.items()):
        data = targz(f"tinylast-{version}", files)
        httpserver.expect_request(f"/dl/tinylast/tinylast-{version}.crate").respond_with_data(data)
        lines.append(json.dumps({"name": "tinylast", "vers": version, "yanked": False,
                                 "cksum": hashlib.sha256(data).hexdigest(),
                                 "pubtime": f"2024-04-0{i + 1}T12:00:00Z"}))
    lines.append(json.dumps({"name": "tinylast", "vers": "1.0.3", "yanked": True, "cksum": "00"}))
    httpserver.expect_request("/ti/ny/tinylast").respond_with_data("\n".join(lines) + "\n")

    result = mine_registry(crates_source(httpserver.url_for("/"), httpserver.url_for("/dl")), "tinylast", settings)
    assert result.repo.repo == "crates/tinylast"
    files = check(result, "crates__tinylast-1.0.1", ["Cargo.toml", "src/lib.rs"], ["tests/it.rs"], "rust")
    assert "Cargo.toml" in files
    assert "Cargo.toml.orig" not in files and ".cargo_vcs_info.json" not in files


def test_gomod_history(httpserver, settings):
    module = "example.com/Acme/last"
    rel = releases(
        code=[{"last.go": "package last\n\nfunc Last(a []int) int { return a[len(a)-2] }\n"},
              {"last.go": "package last\n\nfunc Last(a []int) int { return a[len(a)-1] }\n"}],
        test=[{"last_test.go": "package last\n"},
              {"last_test.go": "package last\n\nfunc TestLast(t *testing.T) {}\n"}],
        changelog="- Fix the off-by-one in `last()`.",
        manifest=lambda v: {"go.mod": f"module {module}\n\ngo 1.22\n"},
    )
    base = "/example.com/!acme/last/@v"
    httpserver.expect_request(f"{base}/list").respond_with_data(
        "v1.0.0\nv1.0.2\nv1.0.1\nv1.1.0-rc.1\nv0.0.0-20240101000000-abcdefabcdef\n")
    for i, (version, files) in enumerate(rel.items()):
        httpserver.expect_request(f"{base}/v{version}.info").respond_with_json(
            {"Version": f"v{version}", "Time": f"2024-04-0{i + 1}T12:00:00Z"})
        httpserver.expect_request(f"{base}/v{version}.zip").respond_with_data(
            zipped(f"{module}@v{version}", files))

    result = mine_registry(gomod_source(httpserver.url_for("/")), module, settings)
    assert result.repo.repo == f"gomod/{module}"
    assert result.repo.meta["versions"] == "v1.0.0 v1.0.1 v1.0.2"
    check(result, "gomod__example.com-Acme-last-v1.0.1", ["last.go"], ["last_test.go"], "go")


def test_index_path_and_module_escaping():
    assert index_path("a") == "1/a"
    assert index_path("cc") == "2/cc"
    assert index_path("syn") == "3/s/syn"
    assert index_path("Serde") == "se/rd/serde"
    assert escape_module("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"


@pytest.mark.network
def test_real_registries_list_releases(settings):
    from envmine.miners.crates_source import list_crate
    from envmine.miners.gomod_source import list_module
    from envmine.miners.npm_source import list_npm
    from envmine.miners.registry_http import http_client

    with http_client() as client:
        assert len(list_npm(client, "ms", 3).releases) == 3
        assert len(list_crate(client, "itoa", 3).releases) == 3
        assert [r.version for r in list_module(client, "github.com/pkg/errors", 2).releases] == [
            "v0.9.0", "v0.9.1"]

"""What real `git diff` output changes, mapped to definitions and tests."""

from pathlib import Path

import pytest

from envmine.code import changed_symbols, test_functions_in_diff
from envmine.code.diffs import apply, hunks, reverse

DIFFS = Path(__file__).parent / "fixtures" / "diffs"


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def scenario(language: str) -> tuple[Path, dict[str, str], dict[str, str]]:
    base = DIFFS / language
    return base, tree(base / "before"), tree(base / "after")


def test_python_gold_patch():
    base, before, _ = scenario("python")
    assert changed_symbols((base / "gold.diff").read_text(), before, "python") == [
        "pkg/calc.py::Calc",  # a class attribute changed
        "pkg/calc.py::Calc.add",
        "pkg/calc.py::Calc.mul",  # added
        "pkg/calc.py::fetch",  # removed
        "pkg/extra.py::Fresh",  # a new file
        "pkg/extra.py::Fresh.go",
        "pkg/extra.py::new_fn",
    ]


def test_python_test_patch():
    base, _, after = scenario("python")
    assert test_functions_in_diff((base / "test.diff").read_text(), after, "python") == [
        "tests/test_calc.py::TestCalc.test_add",  # lines added
        "tests/test_calc.py::TestCalc.test_mul",  # new test
        "tests/test_calc.py::test_module_level",  # only lost a line
        "tests/test_extra.py::test_new_fn",  # new file, rebuilt from the patch
    ]


def test_go_patches():
    base, before, after = scenario("go")
    assert changed_symbols((base / "gold.diff").read_text(), before, "go") == [
        "calc/calc.go::Add",
        "calc/calc.go::Mul",
    ]
    assert test_functions_in_diff((base / "test.diff").read_text(), after, "go") == [
        "calc/calc_test.go::TestMul",
        "calc/calc_test.go::TestTable",
    ]


def test_javascript_patches():
    base, before, after = scenario("javascript")
    assert changed_symbols((base / "gold.diff").read_text(), before, "javascript") == [
        "src/math.js::add",
        "src/math.js::double",
    ]
    assert test_functions_in_diff((base / "test.diff").read_text(), after, "javascript") == [
        "src/math.test.js::math > fails on purpose",
        "src/math.test.js::math > nested group > doubles",
    ]


def test_rust_patch_with_renamed_and_removed_tests():
    base, before, after = scenario("rust")
    diff = (base / "combined.diff").read_text()
    assert changed_symbols(diff, before, "rust") == [
        "src/lib.rs::inner.div",
        "src/lib.rs::inner.tests.div_by_zero_is_zero",
        "src/lib.rs::inner.tests.div_by_zero_panics",
        "src/lib.rs::inner.tests.should_panic_ok",
    ]
    # The removed tests no longer exist, so they are not tests to run.
    assert test_functions_in_diff(diff, after, "rust") == ["src/lib.rs::inner.tests.div_by_zero_is_zero"]


@pytest.mark.parametrize("language", ["python", "go", "javascript", "rust"])
def test_hunks_apply_and_reverse(language):
    base, before, after = scenario(language)
    from envmine.miners.patches import file_diffs

    for diff_file in base.glob("*.diff"):
        for fd in file_diffs(diff_file.read_text()):
            if fd.old_path in before and fd.path in after:
                file_hunks = hunks(fd.text)
                assert apply(before[fd.old_path], file_hunks) == after[fd.path]
                assert apply(after[fd.path], reverse(file_hunks)) == before[fd.old_path]


def test_missing_before_text_is_an_error():
    base, _, _ = scenario("python")
    with pytest.raises(KeyError, match="pkg/calc.py"):
        changed_symbols((base / "gold.diff").read_text(), {}, "python")


def test_renamed_and_deleted_files():
    base, before, after = scenario("python_rename")
    diff = (base / "rename_delete.diff").read_text()
    assert changed_symbols(diff, before, "python") == [
        "pkg/renamed.py::new_fn",  # reported under the new path
        "tests/test_extra.py::test_new_fn",  # the whole file was deleted
    ]
    assert test_functions_in_diff(diff, after, "python") == []

"""Automatic quality codes: what a reviewer would flag on a task before any human looks.

Pure functions over a task (`TaskInstance`) and its `before` run (`TestRun`); each code comes
with the evidence that raised it, so a reviewer sees why. The codes are data in the catalog
(`quality` table, one row per instance and code), queryable in SQL.

| code | raised when |
| --- | --- |
| `statement_leaks_fix` | the statement names identifiers or code the gold patch adds, or quotes an added line |
| `statement_too_short` | fewer than `MIN_STATEMENT_WORDS` words once references are removed |
| `statement_only_reference` | the statement is only references (`Fixes #12`, a URL, a version) |
| `f2p_not_in_test_patch` | a FAIL_TO_PASS test is in no file the test patch adds or changes |
| `f2p_import_failure_only` | FAIL_TO_PASS failed only because its module could not load before |
| `patch_huge` / `patch_trivial` | the gold patch changes more than `HUGE_LINES` / fewer than `TRIVIAL_LINES` lines |
| `tests_need_network` | the test patch opens sockets, URLs or HTTP clients |
| `tests_need_wall_clock` | the test patch sleeps or reads the current time |
| `f2p_flaky` | a FAIL_TO_PASS test did not pass in every repeated `after` run |
"""

from __future__ import annotations

import re
from envmine.miners.patches import file_diffs
from envmine.reasons import QualityCode
from envmine.records import QualityFlag, TaskInstance, TestRun, TestStatus

MIN_STATEMENT_WORDS = 12
HUGE_LINES = 500
TRIVIAL_LINES = 2
MIN_QUOTED_LINE = 16
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|==|!=|<=|>=|[^\sA-Za-z0-9_]")
REFERENCE = re.compile(
    r"(?i)\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|see|refs?|issue|pr|pull request|merge[sd]?)\b"
    r"|#\d+|https?://\S+|\bv?\d+(?:\.\d+)*\b|\bgh-\d+\b|[\W_]+")
IMPORT_ERRORS = re.compile(
    r"ImportError|ModuleNotFoundError|cannot import name|SyntaxError|"
    r"error(?:s)? during collection|Cannot find module|undefined: |unresolved import|"
    r"cannot find symbol|Unable to resolve|has no attribute")
NETWORK = re.compile(
    r"\b(?:requests\.(?:get|post|put|delete|head|Session)|urllib\.request|urlopen|http\.client|"
    r"socket\.(?:socket|create_connection)|httpx\.|aiohttp|fetch\(|net\.Dial|http\.Get|"
    r"reqwest::|HttpClient|URLConnection)|https?://(?!localhost|127\.0\.0\.1|example\.(?:com|org))")
WALL_CLOCK = re.compile(
    r"\b(?:time\.sleep|asyncio\.sleep|datetime\.(?:datetime\.)?(?:now|today|utcnow)|date\.today|"
    r"time\.time\(|setTimeout|Thread\.sleep|time\.Sleep|std::thread::sleep|Date\.now|new Date\(\))")
# Words that are in almost any statement and in any code: never evidence of a leak alone.
COMMON = frozenset(
    "a an the is are be to of in on for and or not if else return self this "
    "def class function fn let var const new import from with as it that by at".split())
LITERALS = frozenset({"None", "null", "nil", "True", "False", "NULL", "undefined", "nullptr"})


def changed_lines(patch: str) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, context) lines of a unified diff, without their markers."""
    added, removed, context = [], [], []
    for line in patch.splitlines():
        if line.startswith(("+++", "---", "diff --git", "index ", "@@")):
            continue
        if line.startswith("+"):
            added.append(line[1:])
        elif line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith(" "):
            context.append(line[1:])
    return added, removed, context


def _code_like(word: str) -> bool:
    """An identifier a prose sentence would not contain by chance."""
    return "_" in word.strip("_") or bool(re.search(r"[a-z][A-Z]", word)) or bool(re.search(r"\d", word))


def _codeish(word: str) -> bool:
    """A word that, next to another added one, is code rather than prose (`None`, `maxLen`)."""
    return _code_like(word) or word in LITERALS


def _quoted(word: str, statement: str) -> bool:
    """`word` is quoted as code in the statement (`word`, ``word``, :func:`word`)."""
    return len(word) >= 4 and word.lower() not in COMMON and re.search(rf"`{re.escape(word)}\b", statement) is not None


def _bigrams(tokens: list[str]) -> set[tuple[str, str]]:
    return set(zip(tokens, tokens[1:]))


def leak_evidence(statement: str, patch: str, observable: str = "") -> list[str]:
    """What the statement shares with the fix and not with the code before it: identifiers
    the patch adds, code bigrams it adds (`is None`), and added lines quoted whole. Text in
    `observable` (what a user sees: the test patch, the failing run's log) is not evidence."""
    added, removed, context = changed_lines(patch)
    before_text = "\n".join(removed + context) + "\n" + observable
    old_idents = set(IDENT.findall(before_text))
    old_bigrams = _bigrams(TOKEN.findall(before_text))
    said = set(IDENT.findall(statement))
    said_bigrams = _bigrams(TOKEN.findall(statement))
    evidence: list[str] = []
    new_idents = {w for line in added for w in IDENT.findall(line)} - old_idents
    evidence += sorted(f"identifier {w}" for w in new_idents & said if _code_like(w) or _quoted(w, statement))
    new_bigrams = {b for line in added for b in _bigrams(TOKEN.findall(line))} - old_bigrams
    evidence += sorted(f"code '{a} {b}'" for a, b in new_bigrams & said_bigrams
                       if IDENT.fullmatch(a) and IDENT.fullmatch(b) and (_codeish(a) or _codeish(b)))
    evidence += [f"line '{line.strip()}'" for line in added
                 if len(line.strip()) >= MIN_QUOTED_LINE and line.strip() in statement]
    return evidence


def statement_words(statement: str) -> list[str]:
    """The statement's words once references (issue numbers, URLs, versions, 'fixes') are gone."""
    return [w for w in REFERENCE.sub(" ", statement).split() if len(w) > 1]


def statement_codes(statement: str) -> dict[QualityCode, str]:
    """`statement_only_reference` or `statement_too_short`, with the word count."""
    words = statement_words(statement)
    if statement.strip() and not words:
        return {QualityCode.statement_only_reference: f"only references: {statement.strip()[:80]!r}"}
    if len(words) < MIN_STATEMENT_WORDS:
        return {QualityCode.statement_too_short: f"{len(words)} words (< {MIN_STATEMENT_WORDS})"}
    return {}


def _test_stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0]


def tests_outside_patch(tests: list[str], test_patch: str) -> list[str]:
    """F2P tests whose name mentions no file (path or file stem) the test patch touches."""
    paths = [fd.path for fd in file_diffs(test_patch)]
    keys = {p for p in paths} | {_test_stem(p) for p in paths}
    keys |= {p.rsplit(".", 1)[0].replace("/", ".") for p in paths}
    return [t for t in tests if not any(k and k in t for k in keys)]


def import_failure_only(instance: TaskInstance, before: TestRun | None) -> str:
    """Why F2P failed only because its module could not load before ("" when it did not):
    no F2P test has a result of its own before, and the log names an import error."""
    if before is None or not instance.FAIL_TO_PASS:
        return ""
    own = [t for t in instance.FAIL_TO_PASS if before.tests.get(t) == TestStatus.failed]
    if own:
        return ""
    match = IMPORT_ERRORS.search(before.log)
    if match is None and instance.provenance.get("before") != "compile_failure":
        return ""
    error = match.group(0) if match else "compile failure"
    return f"{len(instance.FAIL_TO_PASS)} F2P / {len(instance.PASS_TO_PASS)} P2P; before: {error}"


def patch_size_codes(patch: str) -> dict[QualityCode, str]:
    added, removed, _ = changed_lines(patch)
    lines = len(added) + len(removed)
    if lines > HUGE_LINES:
        return {QualityCode.patch_huge: f"{lines} changed lines (> {HUGE_LINES})"}
    if lines < TRIVIAL_LINES or not any(line.strip() for line in added + removed):
        return {QualityCode.patch_trivial: f"{lines} changed lines"}
    return {}


def environment_codes(test_patch: str) -> dict[QualityCode, str]:
    added, _, _ = changed_lines(test_patch)
    text = "\n".join(added)
    codes = {}
    for code, pattern in ((QualityCode.tests_need_network, NETWORK), (QualityCode.tests_need_wall_clock, WALL_CLOCK)):
        found = sorted({m.group(0) for m in pattern.finditer(text)})
        if found:
            codes[code] = ", ".join(found[:5])
    return codes


def assess(instance: TaskInstance, before: TestRun | None = None) -> list[QualityFlag]:
    """Every quality code that applies to `instance` (given its `before` run), sorted by code."""
    codes: dict[QualityCode, str] = {}
    leaks = leak_evidence(instance.problem_statement, instance.patch)
    if leaks:
        codes[QualityCode.statement_leaks_fix] = "; ".join(leaks[:8])
    codes |= statement_codes(instance.problem_statement)
    outside = tests_outside_patch(instance.FAIL_TO_PASS, instance.test_patch)
    if outside:
        codes[QualityCode.f2p_not_in_test_patch] = f"{len(outside)} of {len(instance.FAIL_TO_PASS)}: {', '.join(outside[:3])}"
    if why := import_failure_only(instance, before):
        codes[QualityCode.f2p_import_failure_only] = why
    codes |= patch_size_codes(instance.patch) | environment_codes(instance.test_patch)
    flaky = sorted(t for t in instance.FAIL_TO_PASS if instance.stability.get(t, 1.0) < 1.0)
    if flaky:
        codes[QualityCode.f2p_flaky] = ", ".join(flaky[:3])
    return [QualityFlag(instance_id=instance.instance_id, code=code.value, detail=detail[:500])
            for code, detail in sorted(codes.items())]

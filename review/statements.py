"""Issue-style problem statements written from what a user would observe, never from the fix.

The facts are the FAIL_TO_PASS tests, their errors in the `before` run's log, the test files
and the commit subject (dropped when it names what the gold patch adds). `template_statement`
renders them with a fixed template (deterministic: same facts, same text); `model_statement`
asks any OpenAI-compatible endpoint to write the issue from the same facts. Either way the
gold patch is only read to check the result for leaks; the original statement is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

import httpx
import jinja2

from envmine.miners.patches import file_diffs
from envmine.records import GeneratedStatement, TaskInstance, TestRun, TestStatus
from envmine.validators.quality import IMPORT_ERRORS, leak_evidence, statement_words

MAX_TESTS = 8
MAX_ERROR = 160
ERRORISH = re.compile(r"(?i)error|exception|assert|expected|fail|panic|mismatch|not equal|got ")
SYSTEM_PROMPT = (
    "You write GitHub issues. From the observations below, write a short bug report a user "
    "would file: what they ran, what failed and what they expected. Do not propose a fix, do "
    "not name code that does not exist yet, do not mention commits or patches.")


@dataclass
class FailingTest:
    name: str
    error: str = ""


@dataclass
class Facts:
    """What a user could observe before the fix."""

    subject: str = ""
    failing: list[FailingTest] = field(default_factory=list)
    more: int = 0
    module_error: str = ""
    passing: int = 0
    files: list[str] = field(default_factory=list)


def _tail(test: str) -> str:
    return re.split(r"::|\.|/|#| ", test)[-1] or test


SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")


def section_error(log: str, test: str) -> str:
    """The first `E   ...` line of the test's own failure section in a pytest log
    (`____ test_x[p] ____` ... `E   AssertionError: ...`)."""
    name = test.rsplit("::", 1)[-1]
    inside = False
    for line in log.splitlines():
        header = SECTION.match(line)
        if header:
            inside = header.group(1).replace("::", ".").endswith(name)
        elif inside and line.startswith("E "):
            return line[1:].strip()[:MAX_ERROR]
    return ""


def test_error(log: str, test: str) -> str:
    """The error a test's failure shows in `log`: its pytest section's first `E` line, else the
    text after ' - ' on its summary line (`FAILED t::x - AssertionError: ...`), else the first
    error-ish line naming it."""
    if found := section_error(log, test):
        return found
    for line in log.splitlines():
        if test in line and " - " in line:
            return line.split(" - ", 1)[1].strip()[:MAX_ERROR]
    tail = _tail(test)
    for line in log.splitlines():
        bare = line.strip() in (f"FAILED {test}", f"ERROR {test}")
        if not bare and (test in line or re.search(rf"\b{re.escape(tail)}\b", line)) and ERRORISH.search(line):
            return line.strip()[:MAX_ERROR]
    return ""


def module_load_error(log: str) -> str:
    """The line that says why a test module could not load: pytest's `E   ImportError: ...`
    first, else the first line naming an import or compile error."""
    lines = log.splitlines()
    for line in [l for l in lines if l.startswith("E ")] + lines:
        if IMPORT_ERRORS.search(line):
            return line.lstrip("E").strip()[:MAX_ERROR]
    return ""


def commit_subject(instance: TaskInstance) -> str:
    """The original statement's first line, unless it names the fix or says nothing."""
    subject = instance.provenance.get("subject") or instance.problem_statement.strip().split("\n", 1)[0]
    subject = subject.strip()[:200]
    if not statement_words(subject) or leak_evidence(subject, instance.patch):
        return ""
    return subject


def observe(instance: TaskInstance, before: TestRun | None) -> Facts:
    """The facts a user sees: failing tests and their errors before the fix, the test files."""
    log = before.log if before is not None else ""
    failing = [FailingTest(t, test_error(log, t)) for t in instance.FAIL_TO_PASS[:MAX_TESTS]]
    ran = before is not None and any(before.tests.get(t) == TestStatus.failed for t in instance.FAIL_TO_PASS)
    module_error = "" if ran else module_load_error(log)
    return Facts(subject=commit_subject(instance), failing=failing,
                 more=max(0, len(instance.FAIL_TO_PASS) - MAX_TESTS), module_error=module_error,
                 passing=len(instance.PASS_TO_PASS), files=[fd.path for fd in file_diffs(instance.test_patch)][:5])


def _template() -> jinja2.Template:
    text = resources.files("envmine.review.templates").joinpath("statement.md.j2").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(text)


def render(facts: Facts) -> str:
    """The facts as an issue, by the fixed template (plain Markdown, escaped where shown)."""
    return _template().render(subject=facts.subject, failing=facts.failing, more=facts.more,
                              module_error=facts.module_error, passing=facts.passing, files=facts.files)


def _observable(instance: TaskInstance, before: TestRun | None) -> str:
    return instance.test_patch + "\n" + (before.log if before is not None else "")


def template_statement(instance: TaskInstance, before: TestRun | None) -> GeneratedStatement:
    """The deterministic issue-style statement, checked for leaks against the gold patch
    (what the tests and their failures show is observable, not a leak)."""
    text = render(observe(instance, before))
    return GeneratedStatement(instance_id=instance.instance_id, method="template", text=text,
                              leaks=leak_evidence(text, instance.patch, _observable(instance, before)))


def model_statement(instance: TaskInstance, before: TestRun | None, endpoint: str, model: str,
                    api_key: str = "", timeout_s: float = 60.0) -> GeneratedStatement:
    """The same facts, written up by a model behind an OpenAI-compatible endpoint (the facts
    are the template's text: the model never sees the patch)."""
    body = {"model": model, "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": render(observe(instance, before))}]}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.post(f"{endpoint.rstrip('/')}/chat/completions", json=body, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    text = response.json()["choices"][0]["message"]["content"] or ""
    text = re.sub(r"(?s)<think>.*?</think>", "", text).strip()
    return GeneratedStatement(instance_id=instance.instance_id, method=f"model:{model}", text=text,
                              leaks=leak_evidence(text, instance.patch, _observable(instance, before)))

"""The JavaScript/TypeScript hook: the arguments a project's own `npm test` gives its runner.

Mocha finds its test files from the command line as often as from a `.mocharc`: ws runs
`mocha test/*.test.js`, axios `mocha test/unit/**/*.js --timeout 30000` behind
`npm run test:mocha`. Without those arguments mocha looks in `./test/*.{js,cjs,mjs}` and runs
the wrong files or none. The hook follows `scripts.test` through `npm run`/`yarn`/`pnpm`
references to the first command that starts the runner and hands its arguments to the spec's
test command as `script_args[<runner>]`, less the options the test command sets itself
(reporter, watch mode). package.json is untrusted: an argument with a shell character in it
drops them all (the runner's own defaults and config file apply then). It also says whether
the project has a `pretest` script (`pretest`), which npm runs before `npm test`: yargs and
uuid compile their TypeScript there, and their tests import the compiled output.
"""

from __future__ import annotations

import json
import re
import shlex

from envmine.languages.hooks import HookPlan

RUNNERS = ("mocha", "node-test")
"""Runners whose arguments are taken from the project's scripts (by spec framework name)."""
FRAMEWORKS = {"mocha": "mocha", "_mocha": "mocha", "jest": "jest", "vitest": "vitest", "tape": "tape"}
"""Commands in a script -> the spec framework that runs them (`node --test`: node-test)."""
OWN_OPTIONS = {
    "mocha": {"--reporter": True, "-R": True, "--reporter-option": True, "--reporter-options": True,
              "-O": True, "--watch": False, "-w": False, "--watch-files": True, "--watch-ignore": True},
    "node-test": {"--test": False, "--test-reporter": True, "--test-reporter-destination": True, "--watch": False},
}
"""Options the test command sets itself or that would never end, and whether each takes a value."""
_SAFE = re.compile(r"[A-Za-z0-9_./*{},@:=+%^-]+")
_SEPARATORS = re.compile(r"&&|\|\||;|\|")
_SCRIPT_RUN = re.compile(r"(?:npm|pnpm|yarn)(?:\s+run(?:-script)?)?\s+([\w:.@/-]+)")
_MAX_DEPTH = 8


def referenced_files(files: dict[str, str]) -> list[str]:
    return []


def plan(files: dict[str, str], suite: str) -> HookPlan:
    scripts = _scripts(files.get("package.json", ""))
    found = {runner: args for runner in RUNNERS if (args := script_args(scripts, runner)) is not None}
    return HookPlan(context={"script_args": found, "pretest": "pretest" in scripts},
                    facts={f"{runner}_args": args for runner, args in found.items() if args},
                    framework=test_framework(scripts))


def test_framework(scripts: dict[str, str]) -> str:
    """The framework of the first runner that `scripts.test` starts (through `npm run`), or ""."""
    for tokens in _commands(scripts, "test", set()):
        for i in range(len(tokens or [])):
            if framework := _framework_of(tokens, i):
                return framework
    return ""


def script_args(scripts: dict[str, str], runner: str) -> str | None:
    """The arguments of the first `runner` command reached from `scripts.test` (then from any
    other `test*` script), as one shell-safe string; None where no script starts the runner or
    an argument is not safe to pass on."""
    for start in ["test", *sorted(name for name in scripts if name.startswith("test") and name != "test")]:
        for tokens in _commands(scripts, start, set()):
            if tokens is None:  # a command the shell lexer cannot split: trust none of it
                break
            at = next((i for i in range(len(tokens)) if _framework_of(tokens, i) == runner), None)
            if at is not None:
                return _cleaned(tokens[at + 1:], OWN_OPTIONS.get(runner, {}))
    return None


def _commands(scripts: dict[str, str], name: str, seen: set[str]):
    """The words of each command script `name` runs, in order, with the commands of the
    scripts it calls (`npm run x`, `yarn x`) in their place; None for one that does not split."""
    if name in seen or name not in scripts or len(seen) >= _MAX_DEPTH:
        return
    seen.add(name)
    for command in _SEPARATORS.split(scripts[name]):
        yield _words(command)
        called = _SCRIPT_RUN.fullmatch(command.strip())
        if called:
            yield from _commands(scripts, called.group(1), seen)


def _framework_of(tokens: list[str], i: int) -> str:
    """The framework whose runner the word `tokens[i]` starts, or ""."""
    word = tokens[i].rsplit("/", 1)[-1]
    if word == "node" and "--test" in tokens[i + 1:]:
        return "node-test"
    return FRAMEWORKS.get(word, "")


def _cleaned(tokens: list[str], own: dict[str, bool]) -> str | None:
    kept, skip = [], False
    for token in tokens:
        if skip:
            skip = False
            continue
        option = token.split("=", 1)[0]
        if option in own:
            skip = own[option] and "=" not in token
            continue
        if not _SAFE.fullmatch(token.strip("'\"") if token[:1] in "'\"" and token[-1:] == token[:1] else token):
            return None
        kept.append(token)
    return " ".join(kept)


def _words(command: str) -> list[str] | None:
    """The command's words with their quotes kept (a quoted glob is the runner's to expand,
    an unquoted one the shell's, as where npm runs the script)."""
    lexer = shlex.shlex(command, posix=False)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return None


def _scripts(text: str) -> dict[str, str]:
    try:
        manifest = json.loads(text) if text else {}
    except ValueError:
        return {}
    scripts = manifest.get("scripts") if isinstance(manifest, dict) else None
    if not isinstance(scripts, dict):
        return {}
    return {str(k): v for k, v in scripts.items() if isinstance(v, str)}

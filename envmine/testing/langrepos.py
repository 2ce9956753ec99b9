"""Small repositories, one per language, made as real git histories for the end-to-end tests.

Each has two commits: an initial version with a bug and a passing test, then a bug-fixing
commit that also adds a test for the bug. The miner turns the second commit into a candidate;
its new test must flip (FAIL_TO_PASS) and the old one must keep passing (PASS_TO_PASS).
Almost all use only the toolchain's own test framework; JavaScript (jest), TypeScript (vitest)
and the JVM languages (JUnit, ScalaTest, Kotlin) pull their test framework from a registry
through the CA bundle.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from .pyrepos import git


@dataclass(frozen=True)
class LangRepo:
    language: str
    initial: dict[str, str]
    fix: dict[str, str]
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    network: bool = False
    """Whether building needs a package registry beyond Debian's."""
    notes: list[str] = field(default_factory=list)
    name: str = ""
    """The repository's folder (`<language>-calc` when empty)."""


def make_repo(root: Path, case: LangRepo) -> Path:
    """Create the two-commit repository for `case` under `root`; returns its path."""
    repo = root / (case.name or f"{case.language}-calc")
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for files, message in ((case.initial, "Initial version"), (case.fix, "Fix abs for negative numbers")):
        for rel, text in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
    return repo


GO = LangRepo(
    language="go",
    initial={
        "go.mod": "module example.com/calc\n\ngo 1.22\n",
        "calc.go": "package calc\n\nfunc Abs(x int) int {\n\treturn x\n}\n\nfunc Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n",
        "calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 3) != 3 {\n\t\tt.Fatal(\"max\")\n\t}\n}\n",
    },
    fix={
        "calc.go": "package calc\n\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n\nfunc Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n",
        "calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 3) != 3 {\n\t\tt.Fatal(\"max\")\n\t}\n}\n\nfunc TestAbs(t *testing.T) {\n\tif Abs(-4) != 4 {\n\t\tt.Fatal(\"abs\")\n\t}\n}\n",
    },
    fail_to_pass=["example.com/calc/TestAbs"],
    pass_to_pass=["example.com/calc/TestMax"],
)

RUST = LangRepo(
    language="rust",
    initial={
        "Cargo.toml": "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        "src/lib.rs": "pub fn abs(x: i64) -> i64 {\n    x\n}\n\npub fn max(a: i64, b: i64) -> i64 {\n    if a > b { a } else { b }\n}\n",
        "tests/calc.rs": "#[test]\nfn max_picks_larger() {\n    assert_eq!(calc::max(2, 3), 3);\n}\n",
    },
    fix={
        "src/lib.rs": "pub fn abs(x: i64) -> i64 {\n    if x < 0 { -x } else { x }\n}\n\npub fn max(a: i64, b: i64) -> i64 {\n    if a > b { a } else { b }\n}\n",
        "tests/calc.rs": "#[test]\nfn max_picks_larger() {\n    assert_eq!(calc::max(2, 3), 3);\n}\n\n#[test]\nfn abs_of_negative() {\n    assert_eq!(calc::abs(-4), 4);\n}\n",
    },
    fail_to_pass=["abs_of_negative"],
    pass_to_pass=["max_picks_larger"],
)

_JEST_PACKAGE = """{
  "name": "calc",
  "version": "1.0.0",
  "private": true,
  "scripts": {"test": "jest"},
  "devDependencies": {"jest": "29.7.0"}
}
"""

JAVASCRIPT = LangRepo(
    language="javascript",
    network=True,
    initial={
        "package.json": _JEST_PACKAGE,
        "src/calc.js": "function abs(x) {\n  return x;\n}\n\nfunction max(a, b) {\n  return a > b ? a : b;\n}\n\nmodule.exports = { abs, max };\n",
        "__tests__/calc.test.js": "const { max } = require('../src/calc');\n\ntest('max picks the larger', () => {\n  expect(max(2, 3)).toBe(3);\n});\n",
    },
    fix={
        "src/calc.js": "function abs(x) {\n  return x < 0 ? -x : x;\n}\n\nfunction max(a, b) {\n  return a > b ? a : b;\n}\n\nmodule.exports = { abs, max };\n",
        "__tests__/calc.test.js": "const { abs, max } = require('../src/calc');\n\ntest('max picks the larger', () => {\n  expect(max(2, 3)).toBe(3);\n});\n\ntest('abs of a negative number', () => {\n  expect(abs(-4)).toBe(4);\n});\n",
    },
    fail_to_pass=["__tests__/calc.test.js > abs of a negative number"],
    pass_to_pass=["__tests__/calc.test.js > max picks the larger"],
)

_VITEST_PACKAGE = """{
  "name": "calc-ts",
  "version": "1.0.0",
  "private": true,
  "type": "module",
  "scripts": {"test": "vitest run"},
  "devDependencies": {"vitest": "3.2.4"}
}
"""

TYPESCRIPT = LangRepo(
    language="typescript",
    network=True,
    initial={
        "package.json": _VITEST_PACKAGE,
        "tsconfig.json": '{\n  "compilerOptions": {"target": "ES2022", "module": "ESNext", "strict": true}\n}\n',
        "src/calc.ts": "export function abs(x: number): number {\n  return x;\n}\n\nexport function max(a: number, b: number): number {\n  return a > b ? a : b;\n}\n",
        "test/calc.test.ts": "import { describe, expect, it } from 'vitest';\nimport { max } from '../src/calc';\n\ndescribe('calc', () => {\n  it('max picks the larger', () => {\n    expect(max(2, 3)).toBe(3);\n  });\n});\n",
    },
    fix={
        "src/calc.ts": "export function abs(x: number): number {\n  return x < 0 ? -x : x;\n}\n\nexport function max(a: number, b: number): number {\n  return a > b ? a : b;\n}\n",
        "test/calc.test.ts": "import { describe, expect, it } from 'vitest';\nimport { abs, max } from '../src/calc';\n\ndescribe('calc', () => {\n  it('max picks the larger', () => {\n    expect(max(2, 3)).toBe(3);\n  });\n\n  it('abs of a negative number', () => {\n    expect(abs(-4)).toBe(4);\n  });\n});\n",
    },
    fail_to_pass=["test/calc.test.ts::calc > abs of a negative number"],
    pass_to_pass=["test/calc.test.ts::calc > max picks the larger"],
)

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ex</groupId>
  <artifactId>calc</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.junit.jupiter</groupId>
      <artifactId>junit-jupiter</artifactId>
      <version>5.11.4</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-surefire-plugin</artifactId>
        <version>3.5.2</version>
      </plugin>
    </plugins>
  </build>
</project>
"""

_JAVA_TEST = """package ex;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CalcTest {
    @Test
    void maxPicksLarger() {
        assertEquals(3, Calc.max(2, 3));
    }
%s}
"""

JAVA = LangRepo(
    language="java",
    network=True,
    initial={
        "pom.xml": _POM,
        "src/main/java/ex/Calc.java": "package ex;\n\npublic final class Calc {\n    public static int abs(int x) {\n        return x;\n    }\n\n    public static int max(int a, int b) {\n        return a > b ? a : b;\n    }\n}\n",
        "src/test/java/ex/CalcTest.java": _JAVA_TEST % "",
    },
    fix={
        "src/main/java/ex/Calc.java": "package ex;\n\npublic final class Calc {\n    public static int abs(int x) {\n        return x < 0 ? -x : x;\n    }\n\n    public static int max(int a, int b) {\n        return a > b ? a : b;\n    }\n}\n",
        "src/test/java/ex/CalcTest.java": _JAVA_TEST % "\n    @Test\n    void absOfNegative() {\n        assertEquals(4, Calc.abs(-4));\n    }\n",
    },
    fail_to_pass=["ex.CalcTest::absOfNegative"],
    pass_to_pass=["ex.CalcTest::maxPicksLarger"],
)

_CMAKE_C_LIBRARY = """add_library(calc src/calc.c)
target_include_directories(calc PUBLIC include)
"""
_CMAKE_C_TESTS = """enable_testing()
file(GLOB TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.c)
foreach(source ${TEST_SOURCES})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} calc)
  add_test(NAME ${name} COMMAND ${name})
endforeach()
"""
_CMAKE_C = "cmake_minimum_required(VERSION 3.21)\nproject(calc C)\n" + _CMAKE_C_LIBRARY + _CMAKE_C_TESTS

C = LangRepo(
    language="c",
    initial={
        "CMakeLists.txt": _CMAKE_C,
        "include/calc.h": "#ifndef CALC_H\n#define CALC_H\nint calc_abs(int x);\nint calc_max(int a, int b);\n#endif\n",
        "src/calc.c": "#include \"calc.h\"\n\nint calc_abs(int x) { return x; }\n\nint calc_max(int a, int b) { return a > b ? a : b; }\n",
        "tests/test_max.c": "#include \"calc.h\"\n\nint main(void) { return calc_max(2, 3) == 3 ? 0 : 1; }\n",
    },
    fix={
        "src/calc.c": "#include \"calc.h\"\n\nint calc_abs(int x) { return x < 0 ? -x : x; }\n\nint calc_max(int a, int b) { return a > b ? a : b; }\n",
        "tests/test_abs.c": "#include \"calc.h\"\n\nint main(void) { return calc_abs(-4) == 4 ? 0 : 1; }\n",
    },
    fail_to_pass=["test_abs"],
    pass_to_pass=["test_max"],
)

_CMAKE_CPP = """cmake_minimum_required(VERSION 3.21)
project(calc CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(GTest REQUIRED)
add_library(calc src/calc.cpp)
target_include_directories(calc PUBLIC include)
enable_testing()
include(GoogleTest)
file(GLOB TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/*_test.cpp)
add_executable(calc_tests ${TEST_SOURCES})
target_link_libraries(calc_tests calc GTest::gtest_main)
gtest_discover_tests(calc_tests)
"""

CPP = LangRepo(
    language="cpp",
    initial={
        "CMakeLists.txt": _CMAKE_CPP,
        "include/calc.hpp": "#pragma once\nnamespace calc {\nint abs(int x);\nint max(int a, int b);\n}\n",
        "src/calc.cpp": "#include \"calc.hpp\"\n\nnamespace calc {\nint abs(int x) { return x; }\nint max(int a, int b) { return a > b ? a : b; }\n}\n",
        "tests/max_test.cpp": "#include <gtest/gtest.h>\n#include \"calc.hpp\"\n\nTEST(Calc, MaxPicksLarger) { EXPECT_EQ(calc::max(2, 3), 3); }\n",
    },
    fix={
        "src/calc.cpp": "#include \"calc.hpp\"\n\nnamespace calc {\nint abs(int x) { return x < 0 ? -x : x; }\nint max(int a, int b) { return a > b ? a : b; }\n}\n",
        "tests/abs_test.cpp": "#include <gtest/gtest.h>\n#include \"calc.hpp\"\n\nTEST(Calc, AbsOfNegative) { EXPECT_EQ(calc::abs(-4), 4); }\n",
    },
    fail_to_pass=["Calc.AbsOfNegative"],
    pass_to_pass=["Calc.MaxPicksLarger"],
)

_RSPEC = """require_relative "../lib/calc"

RSpec.describe Calc do
  it "picks the larger with max" do
    expect(Calc.max(2, 3)).to eq(3)
  end
%send
"""

RUBY = LangRepo(
    language="ruby",
    initial={
        "Gemfile": "source \"https://rubygems.org\"\n\ngem \"rspec\", \"~> 3.13\"\ngem \"rake\"\n",
        ".rspec": "--format progress\n",
        "lib/calc.rb": "module Calc\n  def self.abs(x)\n    x\n  end\n\n  def self.max(a, b)\n    a > b ? a : b\n  end\nend\n",
        "spec/calc_spec.rb": _RSPEC % "",
    },
    fix={
        "lib/calc.rb": "module Calc\n  def self.abs(x)\n    x.negative? ? -x : x\n  end\n\n  def self.max(a, b)\n    a > b ? a : b\n  end\nend\n",
        "spec/calc_spec.rb": _RSPEC % "\n  it \"returns the magnitude with abs\" do\n    expect(Calc.abs(-4)).to eq(4)\n  end\n",
    },
    fail_to_pass=["spec/calc_spec.rb::Calc returns the magnitude with abs"],
    pass_to_pass=["spec/calc_spec.rb::Calc picks the larger with max"],
)

_PHPUNIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<phpunit bootstrap="vendor/autoload.php" colors="false">
  <testsuites>
    <testsuite name="calc">
      <directory>tests</directory>
    </testsuite>
  </testsuites>
</phpunit>
"""

_PHP_TEST = """<?php
declare(strict_types=1);

namespace Calc\\Tests;

use Calc\\Calc;
use PHPUnit\\Framework\\TestCase;

final class CalcTest extends TestCase
{
    public function testMaxPicksLarger(): void
    {
        $this->assertSame(3, Calc::max(2, 3));
    }
%s}
"""

PHP = LangRepo(
    language="php",
    initial={
        "composer.json": '{\n  "name": "ex/calc",\n  "require": {"php": ">=8.1"},\n  "require-dev": {"phpunit/phpunit": "^11"},\n  "autoload": {"psr-4": {"Calc\\\\": "src/"}},\n  "autoload-dev": {"psr-4": {"Calc\\\\Tests\\\\": "tests/"}}\n}\n',
        "phpunit.xml": _PHPUNIT_XML,
        "src/Calc.php": "<?php\ndeclare(strict_types=1);\n\nnamespace Calc;\n\nfinal class Calc\n{\n    public static function abs(int $x): int\n    {\n        return $x;\n    }\n\n    public static function max(int $a, int $b): int\n    {\n        return $a > $b ? $a : $b;\n    }\n}\n",
        "tests/CalcTest.php": _PHP_TEST % "",
    },
    fix={
        "src/Calc.php": "<?php\ndeclare(strict_types=1);\n\nnamespace Calc;\n\nfinal class Calc\n{\n    public static function abs(int $x): int\n    {\n        return $x < 0 ? -$x : $x;\n    }\n\n    public static function max(int $a, int $b): int\n    {\n        return $a > $b ? $a : $b;\n    }\n}\n",
        "tests/CalcTest.php": _PHP_TEST % "\n    public function testAbsOfNegative(): void\n    {\n        $this->assertSame(4, Calc::abs(-4));\n    }\n",
    },
    fail_to_pass=["Calc.Tests.CalcTest::testAbsOfNegative"],
    pass_to_pass=["Calc.Tests.CalcTest::testMaxPicksLarger"],
)

_KOTLIN_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ex</groupId>
  <artifactId>calc</artifactId>
  <version>1.0</version>
  <properties>
    <kotlin.version>2.1.21</kotlin.version>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.jetbrains.kotlin</groupId>
      <artifactId>kotlin-stdlib</artifactId>
      <version>${kotlin.version}</version>
    </dependency>
    <dependency>
      <groupId>org.junit.jupiter</groupId>
      <artifactId>junit-jupiter</artifactId>
      <version>5.11.4</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
  <build>
    <sourceDirectory>src/main/kotlin</sourceDirectory>
    <testSourceDirectory>src/test/kotlin</testSourceDirectory>
    <plugins>
      <plugin>
        <groupId>org.jetbrains.kotlin</groupId>
        <artifactId>kotlin-maven-plugin</artifactId>
        <version>${kotlin.version}</version>
        <configuration><jvmTarget>17</jvmTarget></configuration>
        <executions>
          <execution><id>compile</id><goals><goal>compile</goal></goals></execution>
          <execution><id>test-compile</id><goals><goal>test-compile</goal></goals></execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-surefire-plugin</artifactId>
        <version>3.5.2</version>
      </plugin>
    </plugins>
  </build>
</project>
"""

_KOTLIN_TEST = """package ex

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test

class CalcTest {
    @Test
    fun maxPicksLarger() {
        assertEquals(3, Calc.max(2, 3))
    }
%s}
"""

KOTLIN = LangRepo(
    language="kotlin",
    network=True,
    initial={
        "pom.xml": _KOTLIN_POM,
        "src/main/kotlin/ex/Calc.kt": "package ex\n\nobject Calc {\n    fun abs(x: Int): Int = x\n\n    fun max(a: Int, b: Int): Int = if (a > b) a else b\n}\n",
        "src/test/kotlin/ex/CalcTest.kt": _KOTLIN_TEST % "",
    },
    fix={
        "src/main/kotlin/ex/Calc.kt": "package ex\n\nobject Calc {\n    fun abs(x: Int): Int = if (x < 0) -x else x\n\n    fun max(a: Int, b: Int): Int = if (a > b) a else b\n}\n",
        "src/test/kotlin/ex/CalcTest.kt": _KOTLIN_TEST % "\n    @Test\n    fun absOfNegative() {\n        assertEquals(4, Calc.abs(-4))\n    }\n",
    },
    fail_to_pass=["ex.CalcTest::absOfNegative"],
    pass_to_pass=["ex.CalcTest::maxPicksLarger"],
)

_SCALA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ex</groupId>
  <artifactId>calc</artifactId>
  <version>1.0</version>
  <properties>
    <scala.version>2.13.16</scala.version>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.scala-lang</groupId>
      <artifactId>scala-library</artifactId>
      <version>${scala.version}</version>
    </dependency>
    <dependency>
      <groupId>org.scalatest</groupId>
      <artifactId>scalatest_2.13</artifactId>
      <version>3.2.19</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
  <build>
    <sourceDirectory>src/main/scala</sourceDirectory>
    <testSourceDirectory>src/test/scala</testSourceDirectory>
    <plugins>
      <plugin>
        <groupId>net.alchim31.maven</groupId>
        <artifactId>scala-maven-plugin</artifactId>
        <version>4.9.2</version>
        <executions>
          <execution><goals><goal>compile</goal><goal>testCompile</goal></goals></execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-surefire-plugin</artifactId>
        <version>3.5.2</version>
        <configuration><skipTests>true</skipTests></configuration>
      </plugin>
      <plugin>
        <groupId>org.scalatest</groupId>
        <artifactId>scalatest-maven-plugin</artifactId>
        <version>2.2.0</version>
        <configuration>
          <reportsDirectory>${project.build.directory}/scalatest-reports</reportsDirectory>
          <junitxml>.</junitxml>
        </configuration>
        <executions>
          <execution><id>test</id><goals><goal>test</goal></goals></execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
"""

_SCALA_SUITE = """package ex

import org.scalatest.funsuite.AnyFunSuite

class CalcSuite extends AnyFunSuite {
  test("max picks the larger") {
    assert(Calc.max(2, 3) == 3)
  }
%s}
"""

SCALA = LangRepo(
    language="scala",
    network=True,
    initial={
        "pom.xml": _SCALA_POM,
        "src/main/scala/ex/Calc.scala": "package ex\n\nobject Calc {\n  def abs(x: Int): Int = x\n\n  def max(a: Int, b: Int): Int = if (a > b) a else b\n}\n",
        "src/test/scala/ex/CalcSuite.scala": _SCALA_SUITE % "",
    },
    fix={
        "src/main/scala/ex/Calc.scala": "package ex\n\nobject Calc {\n  def abs(x: Int): Int = if (x < 0) -x else x\n\n  def max(a: Int, b: Int): Int = if (a > b) a else b\n}\n",
        "src/test/scala/ex/CalcSuite.scala": _SCALA_SUITE % "\n  test(\"abs of a negative number\") {\n    assert(Calc.abs(-4) == 4)\n  }\n",
    },
    fail_to_pass=["ex.CalcSuite::abs of a negative number"],
    pass_to_pass=["ex.CalcSuite::max picks the larger"],
)

_BUSTED = """local calc = require("calc")

describe("calc", function()
  it("picks the larger with max", function()
    assert.are.equal(3, calc.max(2, 3))
  end)
%send)
"""

LUA = LangRepo(
    language="lua",
    initial={
        ".busted": "return { default = { lpath = \"./src/?.lua\" } }\n",
        "calc-0.1-1.rockspec": ('package = "calc"\nversion = "0.1-1"\nsource = { url = "git://example.com/calc.git" }\n'
                                'dependencies = { "lua >= 5.1" }\ntest_dependencies = { "busted" }\n'
                                'build = { type = "builtin", modules = { calc = "src/calc.lua" } }\n'),
        "src/calc.lua": "local M = {}\n\nfunction M.abs(x)\n  return x\nend\n\nfunction M.max(a, b)\n  if a > b then return a end\n  return b\nend\n\nreturn M\n",
        "spec/calc_spec.lua": _BUSTED % "",
    },
    fix={
        "src/calc.lua": "local M = {}\n\nfunction M.abs(x)\n  if x < 0 then return -x end\n  return x\nend\n\nfunction M.max(a, b)\n  if a > b then return a end\n  return b\nend\n\nreturn M\n",
        "spec/calc_spec.lua": _BUSTED % "\n  it(\"returns the magnitude with abs\", function()\n    assert.are.equal(4, calc.abs(-4))\n  end)\n",
    },
    fail_to_pass=["spec/calc_spec.lua::calc returns the magnitude with abs"],
    pass_to_pass=["spec/calc_spec.lua::calc picks the larger with max"],
)

CASES: dict[str, LangRepo] = {c.language: c for c in (GO, RUST, JAVASCRIPT, TYPESCRIPT, JAVA, C, CPP, RUBY, PHP,
                                                      KOTLIN, SCALA, LUA)}


# Issue 10: repositories that build only the way their ecosystem expects.

_LIFECYCLE_PACKAGE = """{
  "name": "calc-scripts",
  "version": "1.0.0",
  "private": true,
  "scripts": {
    "postinstall": "node scripts/fetch-binary.js",
    "prepare": "node scripts/build.js",
    "test": "node --test"
  }
}
"""

# `prepare` builds from the sources (absent from the repo layer, which has the manifests only);
# `postinstall` downloads from a host the build cannot reach, as prebuilt-binary installers do.
_FETCH_BINARY = """const https = require('https');
https.get('https://downloads.calc-binaries.invalid/calc-linux-x64.tar.gz', () => process.exit(0))
  .on('error', (err) => { console.error(err.message); process.exit(1); });
"""

_BUILD = """const fs = require('fs');
const source = fs.readFileSync('src/calc.js', 'utf8');
fs.mkdirSync('generated', { recursive: true });
fs.writeFileSync('generated/exports.json', JSON.stringify(source.match(/^function (\\w+)/gm).map((l) => l.slice(9))));
"""

_NODE_TEST = """const test = require('node:test');
const assert = require('node:assert');
const { abs, max } = require('../src/calc');

test('build output lists max', () => {
  assert.ok(JSON.parse(require('fs').readFileSync('generated/exports.json', 'utf8')).includes('max'));
});

test('max picks the larger', () => {
  assert.strictEqual(max(2, 3), 3);
});
%s"""

JS_LIFECYCLE = LangRepo(
    language="javascript",
    name="javascript-lifecycle",
    network=True,
    initial={
        "package.json": _LIFECYCLE_PACKAGE,
        "scripts/fetch-binary.js": _FETCH_BINARY,
        "scripts/build.js": _BUILD,
        ".gitignore": "generated/\nnode_modules/\n",
        "src/calc.js": JAVASCRIPT.initial["src/calc.js"],
        "test/calc.test.js": _NODE_TEST % "",
    },
    fix={
        "src/calc.js": JAVASCRIPT.fix["src/calc.js"],
        "test/calc.test.js": _NODE_TEST % "\ntest('abs of a negative number', () => {\n  assert.strictEqual(abs(-4), 4);\n});\n",
    },
    fail_to_pass=["abs of a negative number"],
    pass_to_pass=["build output lists max", "max picks the larger"],
)

RUST_MSRV = LangRepo(
    language="rust",
    name="rust-msrv",
    network=True,
    # No Cargo.lock; `home`'s newest release (0.5.12) needs rustc 1.88, Debian's is 1.85: Cargo's
    # MSRV-aware resolver must pick 0.5.11 (rust-version 1.81).
    initial={**RUST.initial,
             "Cargo.toml": "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n"
                           "[dependencies]\nhome = \"0.5\"\n",
             "src/lib.rs": "pub fn abs(x: i64) -> i64 {\n    x\n}\n\npub fn max(a: i64, b: i64) -> i64 {\n"
                           "    if a > b { a } else { b }\n}\n\npub fn home_known() -> bool {\n"
                           "    home::home_dir().is_some() || true\n}\n"},
    fix={"src/lib.rs": "pub fn abs(x: i64) -> i64 {\n    if x < 0 { -x } else { x }\n}\n\n"
                       "pub fn max(a: i64, b: i64) -> i64 {\n    if a > b { a } else { b }\n}\n\n"
                       "pub fn home_known() -> bool {\n    home::home_dir().is_some() || true\n}\n",
         "tests/calc.rs": RUST.fix["tests/calc.rs"]},
    fail_to_pass=RUST.fail_to_pass,
    pass_to_pass=RUST.pass_to_pass,
)

# The C repository with its tests behind an option that is off by default.
_CMAKE_OPTION = ('cmake_minimum_required(VERSION 3.21)\nproject(calc C)\n'
                 'option(CALC_BUILD_TESTS "Build the calc tests" OFF)\n' + _CMAKE_C_LIBRARY
                 + "if(CALC_BUILD_TESTS)\n" + textwrap.indent(_CMAKE_C_TESTS, "  ") + "endif()\n")

C_TEST_OPTION = LangRepo(
    language="c",
    name="c-test-option",
    initial={**C.initial, "CMakeLists.txt": _CMAKE_OPTION},
    fix=C.fix,
    fail_to_pass=C.fail_to_pass,
    pass_to_pass=C.pass_to_pass,
)

# A mocha project whose tests are where its own `npm test` says (behind `npm run`, with a
# --require that sets up what the specs use), not in mocha's default ./test/*.js, where a
# script that is not a spec would crash the run; and whose `pretest` builds what the specs
# import (build/, not in git), as a TypeScript project compiles there.
_MOCHA_PACKAGE = """{
  "name": "calc-mocha",
  "version": "1.0.0",
  "private": true,
  "scripts": {"lint": "node -e 0", "pretest": "node scripts/build.js", "test": "npm run lint && npm run test:unit",
              "test:unit": "mocha --require test/setup.js --reporter dot 'test/unit/**/*.spec.js'"},
  "devDependencies": {"mocha": "10.8.2"}
}
"""
# The spec leaves a server listening, as many a network library's tests do when the code
# lacks the fix: mocha must end with its tests (`--exit`), not wait for the socket.
_MOCHA_SPEC = ("const assert = require('assert');\nconst { abs, max } = require('../../../build/calc');\n"
               "require('net').createServer().listen(0, '127.0.0.1');\n\n"
               "describe('calc', () => {\n  it('max picks the larger', () => {\n"
               "    assert.strictEqual(max(2, 3), globalThis.expectedMax);\n  });\n%s});\n")

JS_MOCHA_SCRIPT = LangRepo(
    language="javascript",
    name="javascript-mocha-script",
    network=True,
    initial={
        "package.json": _MOCHA_PACKAGE,
        "src/calc.js": JAVASCRIPT.initial["src/calc.js"],
        "test/setup.js": "globalThis.expectedMax = 3;\n",
        # `pretest` "compiles" src/ into build/, which the specs import (git ignores build/)
        "scripts/build.js": ("const fs = require('fs');\nfs.mkdirSync('build', { recursive: true });\n"
                             "fs.copyFileSync('src/calc.js', 'build/calc.js');\n"),
        ".gitignore": "build/\nnode_modules/\n",
        "test/fixtures-server.js": "throw new Error('not a spec: mocha must not load this file');\n",
        "test/unit/math/calc.spec.js": _MOCHA_SPEC % "",
    },
    fix={
        "src/calc.js": JAVASCRIPT.fix["src/calc.js"],
        "test/unit/math/calc.spec.js": _MOCHA_SPEC % "  it('abs of a negative number', () => {\n"
                                       "    assert.strictEqual(abs(-4), 4);\n  });\n",
    },
    fail_to_pass=["test/unit/math/calc.spec.js > calc > abs of a negative number"],
    pass_to_pass=["test/unit/math/calc.spec.js > calc > max picks the larger"],
)

ECOSYSTEM_CASES: dict[str, LangRepo] = {c.name: c for c in (JS_LIFECYCLE, RUST_MSRV, C_TEST_OPTION, JS_MOCHA_SCRIPT)}

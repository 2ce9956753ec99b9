"""`envmine report`: sections from real catalog rows, one self-contained HTML file, drawn by a
real headless browser (Debian's chromium through chromium-driver)."""

from __future__ import annotations

import re
import shutil

import pytest
from typer.testing import CliRunner

from envmine.cli import app
from envmine.records import Build, Evaluation
from envmine.records import TestRun as Run
from envmine.testing.lake_records import T0, candidate, instance, reject
from envmine.warehouse.catalog import Catalog
from envmine.warehouse.plots import PALETTE
from envmine.warehouse.report import sections, write_report

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


def _runs(cand, seconds):
    return [Run(instance_id=cand.instance_id, phase=p, image="img", exit_code=0, suite_ran=True,
                    duration_s=seconds + i, cpu_s=2.0, ran_at=T0) for i, p in enumerate(("before", "after", "after#2"))]


def _builds(cand, n):
    return [Build(instance_id=cand.instance_id, layer="repo", image=f"envmine/repo:{n % 2}", status="built",
                  duration_s=30.0 + n, cpu_s=10.0 + n, size_bytes=400_000_000 + n * 1_000_000, built_at=T0),
            Build(instance_id=cand.instance_id, layer="task", image=f"envmine/task:{n}", status="built",
                  duration_s=2.0 + n / 2, cpu_s=1.0, size_bytes=410_000_000 + n * 1_500_000, built_at=T0)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    catalog_dir = tmp_path_factory.mktemp("report") / "catalog"
    cands = [candidate(i, repo=("acme/widgets", "acme/gears")[i % 2], language=("python", "go")[i % 3 == 0],
                       source=("git", "pypi")[i % 2]) for i in range(9)]
    flaky = instance(cands[1], stability={"tests/test_w.py::test_w": 0.5, "tests/test_w.py::test_old": 1.0})
    evals = [Evaluation(run_id="r1", model="gold", instance_id=c.instance_id, attempt=a, reward=1.0,
                        resolved=True, language=c.language) for c in cands[:5] for a in range(2)]
    evals += [Evaluation(run_id="r2", model="tiny", instance_id=c.instance_id, attempt=a, reward=0.0,
                         resolved=(a == 0 and n % 2 == 0), language=c.language, perturbation="tools:3")
              for n, c in enumerate(cands[:5]) for a in range(2)]
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("candidates", cands)
        catalog.upsert("instances", [instance(c) for c in cands[:5] if c is not cands[1]] + [flaky])
        catalog.upsert("builds", [b for n, c in enumerate(cands) for b in _builds(c, n)])
        catalog.upsert("validations", [r for n, c in enumerate(cands) for r in _runs(c, 5.0 + n)])
        catalog.upsert("rejects", [reject("validate", "no_fail_to_pass", c.instance_id) for c in cands[5:8]]
                       + [reject("build", "dependency_install_failed", cands[8].instance_id)])
        catalog.upsert("evaluations", evals)
        yield catalog


@pytest.fixture(scope="module")
def report_file(catalog, tmp_path_factory):
    return write_report(catalog, tmp_path_factory.mktemp("html") / "report.html")


def test_sections_read_the_catalog(catalog):
    found = {s.title: s for s in sections(catalog)}
    assert found["Funnel per language"].rows == [["go", 3, 3, 3, 2], ["python", 6, 6, 6, 3]]
    assert found["Reject reasons"].rows == [["validate:no_fail_to_pass", 3], ["build:dependency_install_failed", 1]]
    assert found["Flaky tests"].rows == [["acme__gears-1", "tests/test_w.py::test_w", 0.5, True]]
    cost = {r[0]: r for r in found["Cost per validated task and per reject"].rows}
    assert cost["validated task"][1] == 5 and cost["reject (validate)"][1] == 3
    # candidates 0-4: builds 30+n (repo) and 2+n/2 (task) s, runs 5+n, 6+n, 7+n s; mean n = 2;
    # CPU: builds 10+n and 1 s, runs 2 s each
    assert cost["validated task"][2:] == [35.0, 24.0, 59.0, 19.0, 11.0, 413.0]
    # candidates 5-7: mean n = 6: 16 + 1 + 6
    assert cost["reject (validate)"][5] == 23.0
    passk = found["Evaluation: pass@k per model, language and perturbation"].rows
    assert ["gold", "python", "none", 2, 3, 6, 1.0] in passk
    assert all(s.svg or s.empty for s in found.values())


def test_report_is_one_file_that_needs_no_network(report_file):
    html = report_file.read_text()
    assert html.count('<svg class="plot"') >= 9
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html and not re.search(r"url\((?!#)", html)


def test_cli_report_of_an_empty_catalog_says_what_is_missing(tmp_path):
    Catalog.open(tmp_path / "home" / "catalog").close()
    runner = CliRunner()
    done = runner.invoke(app, ["report", "--out", str(tmp_path / "r.html"), "--home", str(tmp_path / "home")])
    assert done.exit_code == 0, done.output
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<svg class="plot"' not in html
    assert "no candidates in the catalog yet" in html and "no evaluations yet" in html
    bad = runner.invoke(app, ["report", "--home", str(tmp_path / "nowhere")])
    assert bad.exit_code == 1 and "no catalog at" in bad.output and "Traceback" not in bad.output


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")
def test_report_renders_every_plot_in_a_real_browser(report_file, tmp_path):
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path = report_file
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2600",
                "--host-resolver-rules=MAP * ~NOTFOUND"):  # nothing may come from the network
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(path.as_uri())
        plots = driver.execute_script("""
            return [...document.querySelectorAll('section.has-plot')].map(s => {
              const svg = s.querySelector('svg.plot'); const box = svg.getBoundingClientRect();
              return {title: s.querySelector('h2').textContent, w: box.width, h: box.height,
                      marks: svg.querySelectorAll('path').length};
            });""")
        resources = driver.execute_script("return performance.getEntriesByType('resource').length")
        shot = tmp_path / "report.png"
        driver.get_screenshot_as_file(str(shot))
    finally:
        driver.quit()
    assert resources == 0
    assert len(plots) >= 9, plots
    for plot in plots:
        assert plot["w"] > 300 and plot["h"] > 120 and plot["marks"] > 20, plot
    image = Image.open(shot).convert("RGB")
    colours = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in PALETTE[:4]}
    drawn = sum(n for n, rgb in image.getcolors(1 << 20) if rgb in colours)
    assert drawn > 20_000, drawn  # the bars and histograms are really painted

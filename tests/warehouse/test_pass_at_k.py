"""The `pass_at_k` view: evaluation attempts as pass@k rows per model, language, perturbation."""

import pytest

from envmine.records import Evaluation
from envmine.rl.evaluate import pass_at_k
from envmine.warehouse.catalog import Catalog


def attempts(model, instance, resolved, language="python", perturbation=""):
    return [Evaluation(run_id=f"run-{model}", model=model, instance_id=instance, attempt=i,
                       reward=float(r), resolved=r, language=language, perturbation=perturbation)
            for i, r in enumerate(resolved)]


@pytest.fixture
def catalog(catalog_dir):
    evals = (attempts("m1", "a", [True, False, False, True])
             + attempts("m1", "b", [False, False, False, False])
             + attempts("m1", "c", [True, True, True, True], language="go")
             + attempts("m1", "a", [False, True], perturbation="tools:7")
             + attempts("m2", "a", [True]))
    evals = [e.model_copy(update={"run_id": f"{e.run_id}-{e.perturbation or 'plain'}"}) for e in evals]
    with Catalog.open(catalog_dir) as catalog:
        catalog.upsert("evaluations", evals)
        yield catalog


def test_pass_at_k_rows_match_the_unbiased_estimator(catalog):
    rows = catalog.sql("SELECT * FROM pass_at_k").to_pylist()
    got = {(r["model"], r["language"], r["perturbation"], r["k"]): r for r in rows}
    python = [got[("m1", "python", "none", k)] for k in (1, 2, 3, 4)]
    for k, row in zip((1, 2, 3, 4), python):
        want = (pass_at_k(4, 2, k) + pass_at_k(4, 0, k)) / 2
        assert row["pass_at_k"] == pytest.approx(want, abs=1e-6)
        assert (row["tasks"], row["attempts"], row["resolved"]) == (2, 8, 2)
    assert python[0]["pass_at_k"] == pytest.approx(0.25) and python[1]["pass_at_k"] == pytest.approx(5 / 12, abs=1e-6)
    assert got[("m1", "go", "none", 4)]["pass_at_k"] == 1.0
    assert got[("m1", "python", "tools:7", 1)]["pass_at_k"] == 0.5
    assert got[("m1", "python", "tools:7", 2)]["pass_at_k"] == 1.0
    assert got[("m2", "python", "none", 1)]["pass_at_k"] == 1.0
    assert len(rows) == 4 + 4 + 2 + 1

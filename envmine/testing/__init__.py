"""Test support shared by tests/ and bench/: fakes of outside services (a GitHub that answers
like GitHub) and small real fixtures (images, repositories, tasks). Installed with envmine so
both import it by name; the pipeline itself never imports it."""

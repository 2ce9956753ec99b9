"""An instance whose statement, patch, test names and hints carry script payloads."""

XSS_ID = "evil__xss-1"


def xss_instance(task):
    payload = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    return task.model_copy(update={
        "instance_id": XSS_ID, "problem_statement": f"Crash on {payload}",
        "patch": task.patch + f"+{payload}\n", "FAIL_TO_PASS": [f"tests/test_x.py::test_{payload}"],
        "hints_text": "</pre><script>window.__xss = 3</script>"})

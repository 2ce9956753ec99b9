"""Harness-side channels that the code under test cannot forge undetected (see README,
"Threat model"). Each guard is one stdlib-only module: the part that runs inside the test
process, and the pure `verify` that every grading path uses to read what it wrote."""

#!/usr/bin/env bash
# Run every language's end-to-end test (real Docker; JavaScript, TypeScript and the JVM
# languages also need npm / Maven Central). The first run builds one toolchain image per
# language (minutes each on a small machine); later runs reuse them.
#
#   scripts/e2e_languages.sh              # all languages and the unreachable-source rejects
#   scripts/e2e_languages.sh go rust      # just these languages
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"
export ENVMINE_E2E_LANGUAGES=all
FILE=tests/e2e/test_languages.py
targets=("$FILE" tests/e2e/test_attacks_languages.py)
if [ "$#" -gt 0 ]; then
  targets=()
  for lang in "$@"; do targets+=("$FILE::test_language_pipeline[$lang]"); done
fi
exec "$PYTEST" -p no:cacheprovider -q -ra --durations=20 "${targets[@]}"

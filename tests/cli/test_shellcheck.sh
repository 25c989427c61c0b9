#!/usr/bin/env bash
# test_shellcheck.sh: shellcheck every shell script of the project (scripts/*, tools/*,
# tests/**/*.sh and the test stand-ins, bench/*.sh, the Slurm template): any finding fails.
# A script is a file with a sh/bash shebang or a .sh/.sbatch name.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (scripts/setup installs it)"; exit 1; }
files=()
while IFS= read -r -d '' f; do
  case "$f" in *.sh|*.sbatch) files+=("$f"); continue ;; esac
  head -n1 "$f" | grep -Eq '^#!.*(/|env )(ba)?sh( |$)' && files+=("$f")
done < <(find scripts tools tests bench -type f \( -path '*/corpus_*' -prune -o -print0 \) | sort -z)
[ ${#files[@]} -gt 10 ] || { echo "only ${#files[@]} scripts found: the search is broken"; exit 1; }
echo "shellcheck: ${#files[@]} scripts"
shellcheck -x -P SCRIPTDIR "${files[@]}"

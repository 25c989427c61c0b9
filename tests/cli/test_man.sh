#!/usr/bin/env bash
# test_man.sh PAGE...: every man page formats without a groff warning (-ww), and shows its
# NAME section.
set -u
fails=0
for page in "$@"; do
  warn=$(groff -ww -z -man "$page" 2>&1)
  if [ -n "$warn" ]; then echo "FAIL: $page:"; echo "$warn"; fails=1; fi
  grep -q '^\.SH NAME' "$page" || { echo "FAIL: $page has no NAME section"; fails=1; }
done
exit $fails

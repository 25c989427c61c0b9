# shellcheck shell=bash
# Shared pieces of the production test scripts (sourced, not run):
#   prod_dir NAME          a temporary directory in $dir; on exit every pid in $pids is
#                          stopped (TERM, then KILL) and the directory removed (kept in
#                          $SF_TEST_KEEP if set)
#   alive PID              whether a process still runs (not gone, not a zombie): polled,
#                          because `wait -n` loses jobs whose end bash has already noticed,
#                          and a subshell watchdog signalled right after its fork can run
#                          the script's traps
#   prod_keys KEYGEN N...  a key pair per party into $dir/N.key; public keys in pub[N]
#   prod_cluster FILE JOB CHANNEL N:PORT...
#                          a cluster file (CHANNEL: the "channel" object's members, or "")
dir="" pids=()
declare -A pub

prod_cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${SF_TEST_KEEP:-}" ] && [ -n "$dir" ]; then mkdir -p "$SF_TEST_KEEP" && cp -r "$dir"/. "$SF_TEST_KEEP"/; fi
  [ -n "$dir" ] && rm -rf "$dir"
}

prod_dir() {
  dir=$(mktemp -d "/tmp/sfmpi-$1.XXXXXX")
  trap prod_cleanup EXIT
  trap 'exit 130' INT TERM
}

alive() {
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  [ "${line%% *}" != Z ]
}

prod_keys() {
  local keygen=$1 n
  shift
  for n in "$@"; do
    pub[$n]=$("$keygen" --party "$n" --out "$dir/$n.key" 2>/dev/null) || { echo "FAIL: keygen $n"; exit 1; }
  done
}

prod_cluster() {
  local file=$1 job=$2 channel=$3 np entries=""
  shift 3
  for np in "$@"; do
    entries+="${entries:+,}
    {\"name\": \"${np%%:*}\", \"address\": \"127.0.0.1:${np##*:}\", \"public_key\": \"${pub[${np%%:*}]}\"}"
  done
  {
    echo "{"
    echo "  \"version\": 1,"
    echo "  \"job_id\": \"$job\","
    if [ -n "$channel" ]; then
      echo "  \"parties\": [$entries"; echo "  ],"; echo "  \"channel\": {$channel}"
    else
      echo "  \"parties\": [$entries"; echo "  ]"
    fi
    echo "}"
  } >"$file"
}

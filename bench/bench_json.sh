# shellcheck shell=sh
# Sourced by the benchmark scripts (POSIX sh): the shell side of the JSON-lines results that
# bench/bench_util.h writes for the C benchmarks (format: bench/README.md, "Result format").
#
#   bench_json_cfg KEY=VALUE ...        print a JSON object; a VALUE that is a number stays a
#                                       number, anything else becomes an escaped string
#   bench_json NAME CONFIG VALUE UNIT [BASELINE BASELINE_NAME]
#                                       append one line to $SF_BENCH_JSON (nothing when it is
#                                       unset or empty); CONFIG is a JSON object (from
#                                       bench_json_cfg), BASELINE empty or "null" for none;
#                                       ratio = VALUE / BASELINE. A VALUE that is not a number
#                                       (a figure the run did not produce) is reported on
#                                       stderr and not written; returns 1 then.
#   bench_json_setup SCRIPT             export SF_BENCH_JSON from $JSON when it is set (an
#                                       absolute path) and SF_BENCH_COMMIT from git, so the C
#                                       benchmarks the script runs write to the same file
# SF_BENCH_CONFIG (extra members of "config", without braces) applies to these lines too.

# bench_json_str TEXT: TEXT as a JSON string (quoted; backslash, quote and control
# characters escaped; a tab becomes \t, other control characters are dropped)
bench_json_str() {
    printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\010\012-\037' |
        sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g')"
}

bench_json_isnum() {
    printf '%s' "$1" | grep -Eq '^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$'
}

bench_json_cfg() {
    _bj_out="" _bj_sep=""
    for _bj_kv in "$@"; do
        _bj_k=${_bj_kv%%=*}
        _bj_v=${_bj_kv#*=}
        if bench_json_isnum "$_bj_v"; then
            _bj_out="$_bj_out$_bj_sep$(bench_json_str "$_bj_k"): $_bj_v"
        else
            _bj_out="$_bj_out$_bj_sep$(bench_json_str "$_bj_k"): $(bench_json_str "$_bj_v")"
        fi
        _bj_sep=", "
    done
    printf '{%s}' "$_bj_out"
}

bench_json() {
    [ -n "${SF_BENCH_JSON:-}" ] || return 0
    _bj_name=$1 _bj_cfg=$2 _bj_val=$3 _bj_unit=$4 _bj_base=${5:-} _bj_bname=${6:-}
    if ! bench_json_isnum "$_bj_val"; then
        echo "bench_json: $_bj_name: value '$_bj_val' is not a number; no line written" >&2
        return 1
    fi
    if [ -n "${SF_BENCH_CONFIG:-}" ]; then
        case $_bj_cfg in
            "{}") _bj_cfg="{$SF_BENCH_CONFIG}" ;;
            *) _bj_cfg="${_bj_cfg%\}}, $SF_BENCH_CONFIG}" ;;
        esac
    fi
    if bench_json_isnum "$_bj_base"; then
        _bj_ratio=$(awk -v a="$_bj_val" -v b="$_bj_base" 'BEGIN { if (b + 0 != 0) printf "%.10g", a / b; else print "null" }')
        _bj_bname=$(bench_json_str "$_bj_bname")
    else
        _bj_base=null _bj_ratio=null _bj_bname=null
    fi
    _bj_load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
    bench_json_isnum "$_bj_load" || _bj_load=null
    _bj_line="{\"name\": $(bench_json_str "$_bj_name"), \"config\": $_bj_cfg, \"value\": $_bj_val, \"unit\": $(bench_json_str "$_bj_unit"), \"baseline\": $_bj_base, \"baseline_name\": $_bj_bname, \"ratio\": $_bj_ratio, \"commit\": $(bench_json_str "${SF_BENCH_COMMIT:-unknown}"), \"load\": $_bj_load, \"time\": \"$(date -u '+%Y-%m-%dT%H:%M:%SZ')\", \"host\": $(bench_json_str "$(hostname 2>/dev/null || uname -n)")}"
    # one printf: one write(2) of the whole line to a file opened for appending
    printf '%s\n' "$_bj_line" >>"$SF_BENCH_JSON" ||
        { echo "bench_json: cannot write $SF_BENCH_JSON (SF_BENCH_JSON)" >&2; return 1; }
}

bench_json_setup() {
    if [ -n "${JSON:-}" ]; then
        case $JSON in
            /*) SF_BENCH_JSON=$JSON ;;
            *) SF_BENCH_JSON=$(pwd)/$JSON ;;
        esac
        export SF_BENCH_JSON
    fi
    if [ -z "${SF_BENCH_COMMIT:-}" ]; then
        SF_BENCH_COMMIT=$(git -C "$(dirname "$1")/.." describe --always --dirty 2>/dev/null || echo unknown)
        export SF_BENCH_COMMIT
    fi
}

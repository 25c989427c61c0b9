#!/usr/bin/env bash
# Install sfmpi from a build tree into a temporary prefix, then build outside programs
# against the installed package and run them:
#   c_cmake/   C11 through find_package(sfmpi)
#   pkg-config C11 through `pkg-config sfmpi` (shared) and `pkg-config sfmpi-static`
#   cxx_cmake/ C++17 through find_package(sfmpi)
# each against the shared and the static library (SFMPI_STATIC for CMake), compiled with
# -Wall -Wextra -pedantic -Werror, each run in debug, simulation and production mode (the
# last through the installed `sfmpi run`) with two ranks per party (its static collective
# kernel runs on both of bob's ranks). Every run's output is
# compared with the expected lines.
# Then sfmpi as a subproject (subproject/: FetchContent of this source tree): built with the
# parent's settings, nothing of sfmpi's tests, and the same program runs.
#   tests/install/run.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/sfmpi-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

step() { echo "== $*"; }
fail() { echo "install test: FAIL: $*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
libdir=$prefix/lib
[ -d "$libdir/pkgconfig" ] || libdir=$(dirname "$(find "$prefix" -name sfmpi.pc -print -quit)")/..
for f in include/sfmpi/sf.h include/sfmpi/version.h; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
for f in libsfmpi.a libsfmpi.so libsfmpi.so.0 pkgconfig/sfmpi.pc pkgconfig/sfmpi-static.pc \
         cmake/sfmpi/sfmpiConfig.cmake cmake/sfmpi/sfmpiConfigVersion.cmake; do
  [ -e "$libdir/$f" ] || fail "lib/$f not installed"
done
# the shared library exports the header's functions and nothing else
bad=$(nm -D --defined-only "$libdir/libsfmpi.so" | awk '$3 !~ /^sf_/ && $3 != "SFMPI_0" {print $3}')
[ -z "$bad" ] || fail "libsfmpi.so exports symbols the header does not name: $bad"

apps=()
for link in shared static; do
  static=OFF; [ $link = static ] && static=ON
  for proj in c_cmake cxx_cmake; do
    step "find_package: $proj against the $link library"
    cmake -S "$here/$proj" -B "$tmp/$proj-$link" -DCMAKE_PREFIX_PATH="$prefix" -DSFMPI_STATIC=$static \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/$proj-$link.log" 2>&1 ||
      { cat "$tmp/$proj-$link.log"; fail "configuring $proj ($link)"; }
    cmake --build "$tmp/$proj-$link" >>"$tmp/$proj-$link.log" 2>&1 ||
      { cat "$tmp/$proj-$link.log"; fail "building $proj ($link)"; }
    exe=$(find "$tmp/$proj-$link" -maxdepth 1 -type f -name 'app*' -perm -u+x -print -quit)
    apps+=("$link:$exe")
  done
  step "pkg-config: C against the $link library"
  pc=sfmpi; [ $link = static ] && pc=sfmpi-static
  # shellcheck disable=SC2046 # pkg-config's output is a list of flags
  cc -std=c11 -Wall -Wextra -pedantic -Werror "$here/app.c" -o "$tmp/app-pc-$link" \
    $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs $pc) -Wl,-rpath,"$libdir" ||
    fail "building with pkg-config $pc"
  apps+=("$link:$tmp/app-pc-$link")
done

step "FetchContent / add_subdirectory of $(dirname "$(dirname "$here")") in a parent project"
cmake -S "$here/subproject" -B "$tmp/sub" -DSFMPI_SOURCE="$(dirname "$(dirname "$here")")" -DPARENT_TYPE= \
  >"$tmp/sub.log" 2>&1 || { cat "$tmp/sub.log"; fail "configuring the subproject parent"; }
grep -q "sfmpi: HDF5 from" "$tmp/sub.log" || fail "the subproject did not report its HDF5"
cmake --build "$tmp/sub" -j"$(nproc)" >>"$tmp/sub.log" 2>&1 || { tail -40 "$tmp/sub.log"; fail "building as a subproject"; }
apps+=("static:$tmp/sub/app")

expected() {
  printf '%s\n' "kernel 1006 on 2 ranks" "twice 14" "actor 3" "spu 21" "version 0.1.0 0.1.0"
  case "$1" in *cxx*) echo "c++ $2";; esac
}
for entry in "${apps[@]}"; do
  link=${entry%%:*} exe=${entry#*:}
  deps=$(ldd "$exe") # (not piped into grep -q: with pipefail, ldd's SIGPIPE would fail it)
  if [ "$link" = shared ]; then
    [[ $deps == *"libsfmpi.so.0 => $libdir"* ]] || { echo "$deps"; fail "$exe does not load $libdir/libsfmpi.so.0"; }
  else
    [[ $deps != *libsfmpi* ]] || fail "$exe loads libsfmpi.so but was linked statically"
  fi
  for mode in debug sim prod; do
    step "$(basename "$exe") ($link) in $mode mode, 2 ranks per party"
    args=("--sf-mode=$mode" "--sf-parties=alice,bob" "--sf-ranks-per-party=2")
    if [ $mode = sim ]; then
      out=$(timeout 120 mpirun -np 4 --oversubscribe --mca mpi_yield_when_idle 1 "$exe" "${args[@]}" 2>"$tmp/err") ||
        { cat "$tmp/err"; fail "$exe in $mode mode exited $?"; }
    elif [ $mode = prod ]; then # the installed command: a job per party, keys, cluster file
      out=$(timeout 120 "$prefix/bin/sfmpi" run --mode=prod --parties alice,bob --ranks-per-party 2 \
              --oversubscribe --timeout 100 "$exe" 2>"$tmp/err") || { cat "$tmp/err"; fail "$exe in $mode mode exited $?"; }
    else
      out=$(timeout 120 "$exe" "${args[@]}" 2>"$tmp/err") || { cat "$tmp/err"; fail "$exe in $mode mode exited $?"; }
    fi
    want=$(expected "$exe" "$mode")
    [ "$out" = "$want" ] || { printf 'got:\n%s\nwanted:\n%s\n' "$out" "$want"; fail "$exe in $mode mode: wrong output"; }
  done
done
echo "install test: ${#apps[@]} programs x 3 modes passed"

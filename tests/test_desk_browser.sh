#!/usr/bin/env bash
# test_desk_browser.sh BUILD_DIR: the reception desk in a real browser (tests/desk_browser.mjs).
# Installs what is missing first: Debian's chromium, nodejs and npm (as root; otherwise it
# prints the apt-get line and fails), and playwright-core, pinned by tests/desk/package.json
# and its lock, into tests/desk/node_modules (it drives /usr/bin/chromium and downloads none).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: test_desk_browser.sh BUILD_DIR}" && pwd)
desk=$here/desk

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test_desk_browser: missing ${need[*]}; install as root with: apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${need[@]}" || { apt-get update && apt-get install -y "${need[@]}"; }
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "test_desk_browser: playwright-core needs Node.js 18 or later; this node is $(node --version)" >&2
    exit 1
fi

# npm keeps its cache under HOME, which a bare environment may lack.
if [ -z "${HOME:-}" ]; then
    HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
    export HOME
fi

# One npm at a time in tests/desk (ctest runs of several build folders share it).
pinned=$(node -p "require('$desk/package.json').dependencies['playwright-core']")
have=$(node -p "try { require('$desk/node_modules/playwright-core/package.json').version } catch (e) { '' }")
if [ "$have" != "$pinned" ]; then
    (
        flock -w 300 9 || { echo "test_desk_browser: npm lock busy for 300 s" >&2; exit 1; }
        have=$(node -p "try { require('$desk/node_modules/playwright-core/package.json').version } catch (e) { '' }")
        if [ "$have" != "$pinned" ]; then
            cd "$desk"
            npm ci --no-audit --no-fund --loglevel=error
        fi
    ) 9>"${TMPDIR:-/tmp}/hcs-desk-npm.lock"
fi

exec node "$here/desk_browser.mjs" "$build"

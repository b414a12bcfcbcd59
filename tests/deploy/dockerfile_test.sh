#!/usr/bin/env bash
# Static Dockerfile checks (Docker cannot run in CI): dockerfile_check.py.
# Usage: dockerfile_test.sh [REPO_ROOT] [DOCKERFILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(cd "$here/../.." && pwd)}
exec /usr/bin/python3 "$here/dockerfile_check.py" "$root" "${2:-$root/Dockerfile}"

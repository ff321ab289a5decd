# syntax=docker/dockerfile:1
#
# detective-operator container image: a static (musl) build on an empty base image.
#
#   docker build -t <registry>/detective-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/detective-operator:0.1.0 --push .
#
# The image holds the binary, the CA bundle (TLS to AWS) and nothing else: no shell, no package
# manager. It runs as UID/GID 65532 (the conventional "nonroot" user), which the Helm chart's
# securityContext also sets, with a read-only root file system.
# See docs/install.md ("The container image").

ARG RUST_VERSION=1.94

# ---- build ------------------------------------------------------------------
FROM rust:${RUST_VERSION}-alpine AS build
# musl-dev: the C runtime to link statically; cmake/make/perl/clang: aws-lc-sys (TLS crypto).
RUN apk add --no-cache musl-dev cmake make perl clang ca-certificates
WORKDIR /src
COPY . .
ENV CARGO_INCREMENTAL=0 \
    RUSTFLAGS="-C target-feature=+crt-static"
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin detective-operator \
 && install -D -m 0755 target/release/detective-operator /out/detective-operator \
 && /out/detective-operator --version

# ---- runtime ----------------------------------------------------------------
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/detective-operator /usr/local/bin/detective-operator
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
# The admin server: /healthz, /readyz, /metrics.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/detective-operator"]
CMD ["run"]

LABEL org.opencontainers.image.title="detective-operator" \
      org.opencontainers.image.description="Keeps Amazon Detective behavior-graph membership exactly as declared" \
      org.opencontainers.image.licenses="Apache-2.0"

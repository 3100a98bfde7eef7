# The antrea-issuer controller image: FROM scratch, the static binary only (it talks only to the API
# server, with the in-cluster service account's CA), run as 65532:65532. hack/ociimage writes the
# same image without Docker (`make release-images`); e2e/release checks that both carry these
# labels, user and entrypoint.
#
# `make image` builds the binary for this machine's architecture and then this image. For both
# architectures: `make release-binaries`, then
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=... --build-arg REVISION=... .
FROM scratch
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="antrea-issuer" \
      org.opencontainers.image.description="cert-manager external issuer for Antrea's controller certificate, and the CA bundle sync" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/antrea-io/antrea-issuer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}"
COPY dist/bin/linux-${TARGETARCH}/antrea-issuer /antrea-issuer
USER 65532:65532
ENTRYPOINT ["/antrea-issuer"]

# The antrea-issuer controller image. The binary is static (CGO_ENABLED=0) and needs no files from
# a base image: it talks only to the API server, with the in-cluster service account's CA.
# Build with `make image`, which builds bin/antrea-issuer for Linux first.
FROM scratch
COPY bin/antrea-issuer /antrea-issuer
USER 65532:65532
ENTRYPOINT ["/antrea-issuer"]

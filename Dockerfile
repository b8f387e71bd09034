# Small, non-root image: the static-ish binary on distroless (no shell, no package manager).
#   docker build -t zscaler-lifecycle-mcp .
#   stdio:  docker run -i --rm -e ZIA_CLOUD -e ZIA_USERNAME -e ZIA_PASSWORD -e ZIA_API_KEY zscaler-lifecycle-mcp
#   demo:   docker run -i --rm zscaler-lifecycle-mcp
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/zscaler-lifecycle-mcp /zscaler-lifecycle-mcp

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /zscaler-lifecycle-mcp /usr/local/bin/zscaler-lifecycle-mcp
ENV ZSCALER_LIFECYCLE_MCP_STATE_DIR=/home/nonroot/state
USER nonroot
ENTRYPOINT ["/usr/local/bin/zscaler-lifecycle-mcp"]
CMD ["serve"]

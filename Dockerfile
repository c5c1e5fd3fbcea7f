# apt-ostree in a container, for CI pipelines that compose Debian OSTree
# commits. Build: docker build -t apt-ostree .
# Run (composing needs root in the container and user namespaces for
# bubblewrap): docker run --privileged -v $PWD:/src -w /src apt-ostree \
#   compose tree examples/debian-trixie-minimal.yaml --repo /src/repo
FROM debian:trixie AS build
RUN apt-get update && apt-get install -y --no-install-recommends golang-go ca-certificates git && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /apt-ostree ./cmd/apt-ostree

FROM debian:trixie
RUN apt-get update && apt-get install -y --no-install-recommends \
      bubblewrap ostree debian-archive-keyring ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /apt-ostree /usr/bin/apt-ostree
ENTRYPOINT ["/usr/bin/apt-ostree"]

# syntax=docker/dockerfile:1
# The image every exported task runs in (`mmc export argo|airflow
# --image …`): the mmc binary, the C libraries its cgo parts link
# (HDF5 for feature stores, OpenBLAS for GEMM) and the configuration;
# no Go toolchain in the final stage.
#
#   docker build -t mmc:latest .
#   docker build --build-arg TAGS=nogcs,noazure -t mmc:s3 .   # S3 only: a smaller binary
#
# Data and weights are not baked in: tasks read and write them through
# the catalog (a bucket, with credentials in conf/<env>/credentials.yml
# mounted from a secret, or the AWS_* / GOOGLE_* / AZURE_* environment).

FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhdf5-dev libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Build tags drop object storage drivers: nogcs, noazure, nos3.
ARG TAGS=""
RUN CGO_ENABLED=1 go build -trimpath -tags "${TAGS}" -ldflags "-s -w" -o /out/mmc .

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libhdf5-103-1 libhdf5-hl-100 libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/mmc /usr/local/bin/mmc
WORKDIR /app
COPY conf/ /app/conf/
RUN useradd --create-home --uid 1000 mmc && mkdir -p /app/data && chown -R mmc /app
USER mmc
ENV MMC_CACHE_DIR=/app/data/.object-cache
ENTRYPOINT ["mmc"]
CMD ["run"]

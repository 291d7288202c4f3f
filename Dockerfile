# Takt's binaries (taktd, takt, takt-sim) on the official Swift image.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libmosquitto-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Simulators ./Simulators
COPY Tests ./Tests
RUN swift build -c release --product taktd && swift build -c release --product takt && swift build -c release --product takt-sim \
    && mkdir -p /out && cp .build/release/taktd .build/release/takt .build/release/takt-sim /out/

FROM swift:6.1-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libmosquitto1 libsqlite3-0 tzdata ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY Config /etc/takt
VOLUME /var/lib/takt
CMD ["taktd", "--plant", "/etc/takt/plant-bishan.yaml", "--data-dir", "/var/lib/takt"]

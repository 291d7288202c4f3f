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
# The programs run as an unprivileged user of their own (fixed ids, so a host directory can be
# given to it); the data directory is its alone. A named volume mounted there starts as a copy of
# it, owner and mode included.
RUN groupadd --system --gid 10001 takt \
    && useradd --system --uid 10001 --gid takt --home-dir /var/lib/takt --no-create-home --shell /usr/sbin/nologin takt \
    && install -d -o takt -g takt -m 0700 /var/lib/takt
COPY --from=build /out/ /usr/local/bin/
COPY Config /etc/takt
USER takt
WORKDIR /var/lib/takt
VOLUME /var/lib/takt
CMD ["taktd", "--plant", "/etc/takt/plant-bishan.yaml", "--data-dir", "/var/lib/takt"]

// swift-tools-version:6.1
// Takt — production-line telemetry: MQTT ingest, exactly-once windowed rollups, capacity planning.
// Linux only (Debian 12 and later): the MQTT and journal code call Glibc (pipe2, poll, fsync
// semantics) and the daemon relies on Linux signal handling; no Apple platform is claimed.
import PackageDescription

/// One set of compiler settings for every target (Swift 6 language mode comes from the tools version).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "takt",
    products: [
        .executable(name: "taktd", targets: ["taktd"]),
        .executable(name: "takt", targets: ["takt"]),
        .executable(name: "takt-sim", targets: ["takt-sim"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "TaktCore", targets: ["TaktCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // MARK: libmosquitto and its only Swift wrapper
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // read(2), write(2), close(2) and socketpair(2) interposed, so a burst of packets on a
        // receiving client's socket costs one read and one write instead of ~4 reads and 2
        // writes per packet (Sources/CSocketBatching/SocketBatching.c).
        .target(name: "CSocketBatching"),
        .target(
            name: "MQTT",
            dependencies: ["CMosquitto", "CSocketBatching"],
            swiftSettings: swiftSettings
        ),

        // MARK: pure core, storage, daemon
        // The Sparkplug B payload schema (Eclipse Tahu's .proto) and the Swift generated from it
        // once by scripts/gen-sparkplug.sh: only the SwiftProtobuf runtime library is linked.
        .target(
            name: "SparkplugB",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["sparkplug_b.proto"]
        ),
        .target(
            name: "TaktCore",
            dependencies: [
                "SparkplugB",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TaktStore",
            dependencies: ["TaktCore", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // CRC-32C of journal records (SSE 4.2 where the CPU has it).
        .target(name: "CTaktChecksum"),
        .target(
            name: "TaktDaemon",
            dependencies: [
                "TaktCore", "TaktStore", "MQTT", "CTaktChecksum",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Notes SIGTERM/SIGINT from load time (a constructor), before any Swift code runs.
        .target(name: "CTaktdStartup"),
        .executableTarget(
            name: "taktd",
            dependencies: [
                "TaktDaemon", "CTaktdStartup",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The report and the plan's read model (HTML/SVG, tables, CSV, the plan-input loader):
        // `takt` only; `taktd` does not link it.
        .target(
            name: "TaktReport",
            dependencies: ["TaktCore", "TaktStore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "takt",
            dependencies: ["TaktCore", "TaktStore", "TaktReport", "MQTT",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        // MARK: simulator
        .target(
            name: "TaktSimulation",
            dependencies: ["TaktCore", "MQTT"],
            path: "Simulators/TaktSimulation",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "takt-sim",
            dependencies: ["TaktSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Simulators/takt-sim",
            swiftSettings: swiftSettings
        ),

        // MARK: benchmarks (scripts/bench.sh, make bench)
        .executableTarget(
            name: "takt-bench",
            dependencies: ["TaktCore", "TaktStore", "TaktSimulation"],
            path: "Benchmarks/TaktBench",
            swiftSettings: swiftSettings
        ),

        // MARK: fuzzing (issue 11): the generators and checks, the takt-fuzz driver (make fuzz)
        // Under Tests/: test tooling, not a product; TaktCoreTests runs the same library in CI.
        .target(
            name: "TaktFuzzing",
            dependencies: ["TaktCore"],
            path: "Tests/Fuzz/TaktFuzzing",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "takt-fuzz",
            dependencies: ["TaktFuzzing", "TaktCore"],
            path: "Tests/Fuzz/takt-fuzz",
            swiftSettings: swiftSettings
        ),

        // MARK: tests
        .target(
            name: "TestSupport",
            dependencies: ["MQTT"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "CSocketBatching", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TaktCoreTests", dependencies: ["TaktCore", "TaktFuzzing", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "TaktStoreTests", dependencies: ["TaktStore", "TaktCore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "TaktReportTests", dependencies: ["TaktReport", "TaktStore", "TaktCore", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(
            name: "TaktSimulationTests",
            dependencies: ["TaktSimulation", "TaktCore", "MQTT", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TaktDaemonTests",
            dependencies: ["TaktDaemon", "TaktCore", "TaktStore", "MQTT", "TestSupport", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
    ]
)

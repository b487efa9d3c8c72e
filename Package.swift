// swift-tools-version:6.0
import PackageDescription

// Layout (see README.md, "Sources/"): C libraries in their own system-library targets,
// the core below everything, the PKI on the system OpenSSL, config on Yams, and the CLI
// on top. Plugins under plugins/ depend on the core only.
let package = Package(
    name: "alertgate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "alertgate", targets: ["alertgate"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .target(
            name: "AlertGateCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "AlertGatePKI",
            dependencies: [
                "COpenSSL",
                "AlertGateCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // TLS on the system OpenSSL for SwiftNIO channels: contexts, the handler, peer checks.
        .target(
            name: "AlertGateTLS",
            dependencies: [
                "COpenSSL",
                "AlertGateCore",
                "AlertGatePKI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The durable spool: one append-only, checksummed queue per partner.
        .target(
            name: "AlertGateSpool",
            dependencies: ["AlertGateCore"]
        ),
        // Transport plugins (docs/reference.md §7): each depends on the core's plugin API only.
        .target(
            name: "SyslogTLSTransport",
            dependencies: [
                "AlertGateCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "plugins/syslog-tls"
        ),
        .target(
            name: "HTTP2Transport",
            dependencies: [
                "AlertGateCore",
                "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "plugins/http2"
        ),
        .target(
            name: "AlertGateConfig",
            dependencies: [
                "AlertGateCore",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(name: "AlertGateIngest", dependencies: ["AlertGateCore", .product(name: "NIOCore", package: "swift-nio")]),
        // Listeners (docs/reference.md §2): syslog UDP/TCP/TLS and the HTTPS webhook, attribution of
        // alerts to appliances; they hand alerts to an `AlertIntake`.
        .target(
            name: "AlertGateListeners",
            dependencies: [
                "AlertGateCore", "AlertGateConfig", "AlertGatePKI", "AlertGateTLS", "AlertGateIngest",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Assembles a running gateway from a config: the store, its services, the logs.
        .target(
            name: "AlertGateRuntime",
            dependencies: [
                "AlertGateCore",
                "AlertGatePKI",
                "AlertGateTLS",
                "AlertGateConfig",
                "AlertGateListeners",
                "AlertGateSpool",
                "AlertGateIngest",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "alertgate",
            dependencies: [
                "AlertGateCore",
                "SyslogTLSTransport",
                "HTTP2Transport",
                "AlertGatePKI",
                "AlertGateConfig",
                "AlertGateRuntime",
                "AlertGateTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `alertgate-bench`: the outbound path measured against the bench sinks (Benchmarks/run.sh).
        .executableTarget(
            name: "alertgate-bench",
            dependencies: [
                "AlertGateCore", "AlertGatePKI", "AlertGateTLS", "AlertGateRuntime", "AlertGateSpool", "SyslogTLSTransport", "HTTP2Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks",
            exclude: ["run.sh"]
        ),
        // Test support: a PKI made with the openssl CLI at test time, and loopback peers.
        .target(
            name: "AlertGateTesting",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AlertGateCoreTests",
            dependencies: ["AlertGateCore"]
        ),
        .testTarget(name: "AlertGateIngestTests", dependencies: ["AlertGateIngest", "AlertGateCore", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "AlertGateListenersTests",
            dependencies: [
                "AlertGateListeners", "AlertGateCore", "AlertGateConfig", "AlertGatePKI", "AlertGateTLS", "AlertGateTesting",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "AlertGateSpoolTests",
            dependencies: ["AlertGateSpool", "AlertGateCore"]
        ),
        .testTarget(
            name: "AlertGateRuntimeTests",
            dependencies: [
                "AlertGateRuntime", "AlertGateCore", "AlertGateConfig", "AlertGatePKI", "AlertGateTLS", "AlertGateTesting",
                "SyslogTLSTransport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "AlertGateTLSTests",
            dependencies: [
                "AlertGateTLS", "AlertGatePKI", "AlertGateTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AlertGatePKITests",
            dependencies: ["AlertGatePKI", "AlertGateTesting"]
        ),
        .testTarget(
            name: "AlertGateConfigTests",
            dependencies: ["AlertGateConfig", "AlertGatePKI", "AlertGateTesting"]
        ),
        // The http2 plugin against nghttpd, the bench's h2sink and a scripted server made on
        // nghttp2's server API (with OpenSSL directly, for ALPN h2) in the tests.
        .testTarget(
            name: "HTTP2TransportTests",
            dependencies: [
                "HTTP2Transport", "AlertGateCore", "AlertGateRuntime", "AlertGateConfig", "AlertGatePKI", "AlertGateTLS",
                "AlertGateTesting", "CNGHTTP2", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "alertgateTests",
            dependencies: ["AlertGateTesting", "AlertGateRuntime"]
        ),
        // `alertgate run` end to end: every listener kind in, both plugins out to the
        // bench's sinks, partner down, kill -9, garbage, a full spool.
        .testTarget(
            name: "GatewayTests",
            dependencies: ["AlertGateTesting"]
        ),
    ]
)

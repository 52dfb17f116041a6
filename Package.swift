// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Shoal",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ShoalNode", targets: ["ShoalNode"]),
        .executable(name: "shoal", targets: ["shoal"]),
        .executable(name: "shoal-bench", targets: ["shoal-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure cores: no sockets, no clocks, no Dispatch.
        .target(name: "ShoalCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ShoalDHT", dependencies: ["ShoalCore"]),
        .target(
            name: "ShoalMembership",
            dependencies: ["ShoalCore", .product(name: "DequeModule", package: "swift-collections")]
        ),
        .target(name: "ShoalRepair", dependencies: ["ShoalCore"], exclude: ["ShellContract.md"]),

        // The one codec target.
        .target(
            name: "ShoalWire",
            dependencies: [
                "ShoalCore", "ShoalRepair",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // The file pipeline: chunk → seal → manifest, and back. No disk, no sockets.
        .target(
            name: "ShoalFile",
            dependencies: [
                "ShoalCore", "ShoalWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "ShoalStore",
            dependencies: [
                "ShoalCore", "ShoalFile", "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShoalTransport",
            dependencies: [
                "ShoalCore", "ShoalWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShoalNode",
            dependencies: [
                "ShoalCore", "ShoalDHT", "ShoalMembership", "ShoalRepair", "ShoalWire", "ShoalFile", "ShoalStore",
                "ShoalTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["WebUI/index.html"]
        ),
        .executableTarget(
            name: "shoal",
            dependencies: [
                "ShoalNode", "ShoalCore", "ShoalTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "shoal-bench",
            dependencies: [
                "ShoalNode", "ShoalCore", "ShoalFile", "ShoalStore", "ShoalDHT", "ShoalRepair", "ShoalWire",
                "ShoalTestKit",
                "ShoalTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShoalTestKit",
            dependencies: [
                "ShoalCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),

        .testTarget(
            name: "ShoalCoreTests",
            dependencies: ["ShoalCore", "ShoalTestKit", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "ShoalDHTTests", dependencies: ["ShoalDHT", "ShoalCore", "ShoalTestKit"]),
        .testTarget(name: "ShoalMembershipTests", dependencies: ["ShoalMembership", "ShoalCore", "ShoalTestKit"]),
        .testTarget(name: "ShoalRepairTests", dependencies: ["ShoalRepair", "ShoalCore", "ShoalTestKit"]),
        .testTarget(
            name: "ShoalWireTests",
            dependencies: [
                "ShoalWire", "ShoalCore", "ShoalRepair", "ShoalTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ShoalFileTests",
            dependencies: [
                "ShoalFile", "ShoalCore", "ShoalWire", "ShoalTestKit", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ShoalStoreTests",
            dependencies: [
                "ShoalStore", "ShoalFile", "ShoalCore", "ShoalWire", "ShoalTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ShoalTransportTests",
            dependencies: [
                "ShoalTransport", "ShoalWire", "ShoalCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ShoalClusterTests",
            dependencies: [
                "ShoalNode", "ShoalCore", "ShoalTransport", "ShoalWire",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ShoalNodeTests",
            dependencies: [
                "ShoalNode", "ShoalCore", "ShoalFile", "ShoalStore", "ShoalTransport", "ShoalDHT", "ShoalWire",
                "ShoalRepair", "ShoalMembership", "ShoalTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

// Fuzz targets (Fuzz/<Name>/), built only by Scripts/fuzz.sh, which sets SHOAL_FUZZ=1 and links
// libFuzzer with `-sanitize=fuzzer`: `swift build` and `swift test` neither see nor build them.
if Context.environment["SHOAL_FUZZ"] == "1" {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/Support"),
        .executableTarget(
            name: "fuzz-frames",
            dependencies: ["FuzzSupport", "ShoalWire", "ShoalCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Frames"
        ),
        .executableTarget(
            name: "fuzz-manifest",
            dependencies: [
                "FuzzSupport", "ShoalFile", "ShoalWire", "ShoalCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Fuzz/Manifest"
        ),
        .executableTarget(name: "fuzz-addresses", dependencies: ["FuzzSupport", "ShoalCore"], path: "Fuzz/Addresses"),
        .executableTarget(name: "fuzz-range", dependencies: ["FuzzSupport", "ShoalFile"], path: "Fuzz/Range"),
        // Writes Fuzz/corpus/ (`Scripts/fuzz.sh seeds`).
        .executableTarget(
            name: "fuzz-seeds",
            dependencies: ["ShoalWire", "ShoalCore", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Seeds"
        ),
    ]
}

// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "llfreed",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LLFree", targets: ["LLFree"]),
        .library(name: "LLFreeSimulation", targets: ["LLFreeSimulation"]),
        .executable(name: "llfree-crashtest", targets: ["llfree-crashtest"]),
        .library(name: "LLFreePool", targets: ["LLFreePool"]),
        .executable(name: "llfree-ctl", targets: ["llfree-ctl"]),
        .library(name: "LLFreeProtocol", targets: ["LLFreeProtocol"]),
        .library(name: "LLFreeServer", targets: ["LLFreeServer"]),
        .library(name: "LLFreeDaemon", targets: ["LLFreeDaemon"]),
        .library(name: "LLFreeClient", targets: ["LLFreeClient"]),
        // The C client (issue 13): libllfree-client with llfree/client.h. The shared library
        // with its soname and the pkg-config file are built by Sources/CLLFreeClient/Makefile,
        // since SwiftPM cannot set a soname.
        .library(name: "CLLFreeClient", targets: ["CLLFreeClient"]),
        .executable(name: "llfreed", targets: ["llfreed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // 1.7 for @ParentCommand: llfree-ctl takes --socket before its verb too.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        // Deployment (issue 6): configuration file, metrics and their Prometheus exposition.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // Benchmarks: the paper's user-space benchmarks against baselines (run in release).
        .executableTarget(
            name: "llfree-bench",
            dependencies: [
                "LLFree",
                "LLFreePool",
                "CPUAffinity",
                // request-path: the server's own request path in process (no socket), with the
                // allocator class llfreed serves (LLFreeDaemon's PmemAllocator).
                "LLFreeServer", "LLFreeDaemon",
                "LLFreeProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The llfreed wire protocol: messages and their codec, no I/O.
        .target(name: "LLFreeProtocol"),
        // The shared-memory transport: a ring memory object (header, request and reply byte
        // rings), its producer and consumer sides, futex doorbells with bounded spinning.
        .target(
            name: "LLFreeRing",
            dependencies: ["CLinuxShims", .product(name: "Atomics", package: "swift-atomics"),
                           .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "LLFreeProtocolTests", dependencies: ["LLFreeProtocol"]),
        // The llfreed server: SwiftNIO Unix-socket server, one event loop per allocator core,
        // connections, request processing, access policy, counters. It knows an allocator
        // interface (FrameAllocator) and an owner store (OwnerStore, the pool's owner table), not
        // the pool file.
        .target(
            name: "LLFreeServer",
            dependencies: [
                "LLFree", "LLFreeProtocol", "LLFreePool", "LLFreeRing", "CPUAffinity", "CLinuxShims", "SystemCalls",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // What the server's and the daemon's tests share: raw connections, a volatile allocator.
        .target(name: "LLFreeTestSupport", dependencies: ["LLFree", "LLFreeProtocol", "LLFreeServer", .product(name: "Logging", package: "swift-log")], path: "Tests/LLFreeTestSupport"),
        // In-process tests of the server on a volatile allocator: no pool, no Prometheus.
        .testTarget(
            name: "LLFreeServerTests",
            dependencies: [
                "LLFreeServer", "LLFreeClient", "LLFreeProtocol", "LLFree", "LLFreeTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // llfreed's life: configuration (defaults < file (YAML) < environment (LLFREED_*) <
        // flags, validated before anything is opened), the log format, create/open/recover the
        // pool, serve it, close it; systemd notify, watchdog and socket activation; Prometheus.
        .target(
            name: "LLFreeDaemon",
            dependencies: [
                "LLFreeServer", "LLFreePool", "LLFree", "LLFreeProtocol", "SystemCalls",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The daemon's configuration, systemd and metrics parts in process, and integration tests
        // against the real llfreed binary (built as a product of this package) on a real socket.
        .testTarget(
            name: "LLFreeDaemonTests",
            dependencies: [
                "LLFreeDaemon", "LLFreeServer", "LLFreePool", "LLFreeClient", "LLFreeProtocol", "LLFree", "LLFreeTestSupport",
                "CLLFreeClient", "LLFreeRing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The client library: async and blocking APIs, pipelining, reconnect, frame mapping.
        .target(
            name: "LLFreeClient",
            dependencies: [
                "LLFreeProtocol", "LLFreeRing", "SystemCalls", "CLinuxShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The C client library: the wire protocol in C11 behind one header, for C, C++, Rust
        // (bindgen) and Python (ctypes) programs. The Makefile beside it is the shipped build.
        .target(
            name: "CLLFreeClient",
            exclude: ["Makefile", "llfree-client.pc.in", "llfree-client.map"],
            cSettings: [.define("LLFREE_CLIENT_BUILDING")]
        ),
        // llfreed: the daemon executable (parses arguments, calls Daemon.run).
        .executableTarget(
            name: "llfreed",
            dependencies: [
                "LLFreeDaemon", "LLFreeServer", "LLFreePool", "LLFree",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libpmem as a system library (pkg-config libpmem, Debian libpmem-dev).
        .systemLibrary(name: "CLibPmem", pkgConfig: "libpmem", providers: [.apt(["libpmem-dev"])]),
        // C where Swift cannot see Linux: struct ucred and SO_PEERGROUPS (_GNU_SOURCE).
        .target(name: "CLinuxShims"),
        // The one errno convention for the system calls swift-system's FileDescriptor lacks
        // (sockets, poll, fstat, flock, mmap, ...): the only place EINTR is retried.
        .target(name: "SystemCalls", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        // Pinning threads to CPUs (benchmarks and load generators).
        .target(name: "CPUAffinity"),
        // Per-thread pending cache lines for PmemPersistence (C for thread-local storage).
        .target(name: "CPendingLines"),
        // The persistent pool: on-media format, libpmem mapping, flush/fence discipline, recovery.
        .target(
            name: "LLFreePool",
            dependencies: ["LLFree", "CLibPmem", "CPendingLines", "CLinuxShims", "SystemCalls", .product(name: "Atomics", package: "swift-atomics"),
                           .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "LLFreePoolTests", dependencies: ["LLFreePool", "LLFree", .product(name: "Atomics", package: "swift-atomics")]),
        // llfree-ctl: format, inspect and check pool files (offline verbs; online ones talk to llfreed).
        .executableTarget(
            name: "llfree-ctl",
            dependencies: ["LLFree", "LLFreePool", "CPUAffinity", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           "LLFreeClient", "LLFreeProtocol", "CLLFreeClient", .product(name: "Histogram", package: "hdrhistogram-swift"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "SystemPackage", package: "swift-system")]
        ),
        // The simulated persistence domain and the crash explorer.
        .target(name: "LLFreeSimulation", dependencies: ["LLFree", "LLFreePool"]),
        .testTarget(name: "LLFreeSimulationTests", dependencies: ["LLFreeSimulation", "LLFreePool", "LLFree", "LLFreeTestSupport"]),
        // llfree-crashtest: simulator sweeps (sim) and the process-level kill loop (kill).
        .executableTarget(
            name: "llfree-crashtest",
            dependencies: ["LLFreeSimulation", "LLFreePool", "LLFree", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           "LLFreeClient", "LLFreeProtocol"]
        ),
        // The allocator core: LLFree's lower and upper levels, no I/O.
        .target(
            name: "LLFree",
            dependencies: [.product(name: "Atomics", package: "swift-atomics")]
        ),
        .testTarget(name: "LLFreeTests", dependencies: ["LLFree", .product(name: "Atomics", package: "swift-atomics")]),
    ]
)

// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "llfreed",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LLFree", targets: ["LLFree"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // The allocator core: LLFree's lower and upper levels, no I/O.
        .target(
            name: "LLFree",
            dependencies: [.product(name: "Atomics", package: "swift-atomics")]
        ),
        .testTarget(name: "LLFreeTests", dependencies: ["LLFree", .product(name: "Atomics", package: "swift-atomics")]),
    ]
)

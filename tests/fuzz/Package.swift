// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for vtpm (docs/fuzzing.md). A separate package so that the sanitizer flags
// never reach the main build: scripts/fuzz builds it with
//   swift build -c release --scratch-path .build-fuzz --sanitize fuzzer -Xswiftc -parse-as-library
// (SwiftPM's --sanitize fuzzer links libFuzzer's main; each target defines LLVMFuzzerTestOneInput).
let targets = [
    "fuzz-engine", "fuzz-engine-loaded", "fuzz-state-import", "fuzz-control", "fuzz-framers", "fuzz-ima",
    "fuzz-evidence", "fuzz-audit", "fuzz-policy",
]

let package = Package(
    name: "vtpm-fuzz",
    platforms: [.macOS(.v14)],
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "vtpm", path: "../.."),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // What every target shares: the libFuzzer entry glue, a deterministic environment,
        // response checks, the state round trip.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "TPMEngine", package: "vtpm"),
                .product(name: "TPMWire", package: "vtpm"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        )
    ]
        + targets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "FuzzSupport",
                    .product(name: "TPMEngine", package: "vtpm"),
                    .product(name: "TPMWire", package: "vtpm"),
                    .product(name: "VTPMHost", package: "vtpm"),
                    .product(name: "Measurement", package: "vtpm"),
                    .product(name: "Attestation", package: "vtpm"),
                    .product(name: "AgentCore", package: "vtpm"),
                ]
            )
        }
)

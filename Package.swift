// swift-tools-version:6.0
import PackageDescription

// Linking Foundation statically (vtpm-agent, vtpm): its static archives do not name the archives
// they need (no autolink entries are read from archive members), so they are listed; lld, unlike
// gold, resolves them in any order.
let staticFoundationArchives = [
    "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-lFoundationInternationalization",
    "-Xlinker", "-l_FoundationICU", "-Xlinker", "-l_FoundationCollections",
    "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lCoreFoundation",
    "-Xlinker", "-lswiftSynchronization",
]

// Strict concurrency is the Swift 6 language mode's default; warnings are errors in CI
// (`swift build -Xswiftc -warnings-as-errors`).
let package = Package(
    name: "vtpm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vtpm", targets: ["vtpm"]),
        .executable(name: "vtpm-verifier", targets: ["vtpm-verifier"]),
        .library(name: "TPMEngine", targets: ["TPMEngine"]),
        .library(name: "TPMClient", targets: ["TPMClient"]),
        .executable(name: "vtpm-agent", targets: ["vtpm-agent"]),
        // For the fuzz targets (tests/fuzz, a separate package that depends on this one).
        .library(name: "TPMWire", targets: ["TPMWire"]),
        .library(name: "VTPMHost", targets: ["VTPMHost"]),
        .library(name: "Measurement", targets: ["Measurement"]),
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "AgentCore", targets: ["AgentCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // X.509 for the host's local CA (EK certificates) and the verifier's EK chain checks.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // Host metrics (vtpm serve --metrics): swift-metrics API, Prometheus exposition.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // TPM 2.0 constants, structures and the strict codec (Part 2). No I/O.
        .target(name: "TPMWire"),
        // OpenSSL's libcrypto from the system (libssl-dev): bignums, RSA private operations, EC
        // arithmetic. No build cost; only TPMCrypto/OpenSSL.swift calls it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // epoll(7) and accept4(2) for VTPMHost's raw data plane (not in Glibc's Swift module).
        .systemLibrary(name: "CLinuxSockets"),
        // Hashes, HMAC, KDFa/KDFe, DRBG, AES modes, RSA, ECC, primary-key derivation.
        // Knows nothing about commands.
        .target(
            name: "TPMCrypto",
            dependencies: [
                "COpenSSL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The TPM itself: a sans-I/O state machine, `execute(locality:command:)`.
        .target(name: "TPMEngine", dependencies: ["TPMWire", "TPMCrypto"]),
        // Servers and framers (mssim, swtpm control channel) around engine instances.
        .target(
            name: "VTPMHost",
            dependencies: [
                "TPMEngine", "TPMWire", "CLinuxSockets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The IMA measurement list (ima-ng; binary and ASCII forms), template hashes, boot
        // aggregate, PCR replay. No TPM code.
        .target(name: "Measurement", dependencies: ["COpenSSL", .product(name: "Crypto", package: "swift-crypto")]),
        // Evidence protocol, quote verification, MakeCredential, policy, audit records. No I/O.
        .target(
            name: "Attestation",
            dependencies: [
                "Measurement", "TPMWire", "TPMCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // A TPM 2.0 client: TCTI transports (device, mssim, swtpm, unix), commands, sessions.
        // Shared by the agent and the host; never depends on the engine.
        .target(name: "TPMClient", dependencies: ["TPMWire", "TPMCrypto"]),
        // libaudit's headers from the system (libaudit-dev): the agent's exec-event source. Its
        // static archives are linked by AgentCore (no pkg-config: that would link libaudit.so).
        .systemLibrary(name: "CAudit", providers: [.apt(["libaudit-dev"])]),
        // The guest agent's logic (event parsing, measuring, the list, the TPM side), testable
        // without the executable.
        .target(
            name: "AgentCore",
            dependencies: [
                "TPMClient", "TPMWire", "TPMCrypto", "CAudit", "Measurement", "Attestation",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Agent/Sources/AgentCore",
            // libaudit (and libcap-ng, which it uses) from their static archives in libaudit-dev:
            // the agent runs in guests that have glibc but not necessarily libaudit.
            linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libaudit.a", "-Xlinker", "-l:libcap-ng.a"])]
        ),
        .executableTarget(
            name: "vtpm-agent",
            dependencies: [
                "AgentCore", "TPMClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Agent/Sources/vtpm-agent",
            // A fully static executable (glibc, libstdc++, the Swift runtime, Foundation, OpenSSL's
            // libcrypto from their static archives): it runs in any x86-64 Linux guest, even a
            // busybox initramfs (tests/integration/test_agent_guest.py).
            linkerSettings: [
                .unsafeFlags(["-static-executable", "-use-ld=lld"] + staticFoundationArchives)
            ]
        ),
        .executableTarget(
            name: "vtpm",
            dependencies: [
                "VTPMHost", "TPMEngine", "TPMCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The Swift runtime and Foundation linked statically: libvirt starts `swtpm_setup`
            // (this executable) once per VM, and resolving the shared Swift libraries' symbols
            // at every start cost more CPU than the provisioning's TPM work besides the RSA EK.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib", "-use-ld=lld"] + staticFoundationArchives)
            ]
        ),
        // OpenSSL's X.509 path validation for the verifier's EK-certificate check.
        .systemLibrary(
            name: "CX509",
            path: "Verifier/Sources/CX509",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // The verifier daemon and its CLI (top-level Verifier/, DESIGN.md section 2).
        .executableTarget(
            name: "vtpm-verifier",
            dependencies: [
                "Attestation", "Measurement", "TPMWire", "TPMCrypto", "CX509",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Verifier/Sources/vtpm-verifier"
        ),
        .testTarget(name: "TPMWireTests", dependencies: ["TPMWire"]),
        .testTarget(
            name: "VerifierTests",
            dependencies: [
                "vtpm-verifier", "Attestation", "Measurement", .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "MeasurementTests",
            dependencies: ["Measurement", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "AttestationTests",
            dependencies: [
                "Attestation", "Measurement", "TPMWire", "TPMCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TPMClientTests",
            dependencies: ["TPMClient", "TPMWire", "TPMCrypto", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: ["AgentCore", "TPMClient", "TPMWire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "TPMCryptoTests",
            dependencies: ["TPMCrypto", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "VTPMHostTests",
            dependencies: [
                "VTPMHost", "TPMEngine", "TPMWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Oracle"]
        ),
        .testTarget(
            name: "TPMEngineTests",
            dependencies: [
                "TPMEngine", "TPMWire", "TPMCrypto", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ]
)

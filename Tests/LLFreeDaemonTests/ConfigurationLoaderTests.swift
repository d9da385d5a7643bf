// Tests of llfreed's configuration: defaults, precedence (flags > environment > file >
// defaults), refusals that name the key, the source and what is expected, the example file,
// and --check-config output that reads back as the same configuration.

import Foundation
import LLFreeDaemon
import LLFreePool
import LLFreeServer
import LLFreeDaemon
import Logging
import XCTest

final class ConfigurationLoaderTests: XCTestCase {
    let host = ConfigurationLoader.Host(uid: 1000, runtimeDirectory: "/run/user/1000", cpus: 3)
    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-config-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func write(_ text: String, name: String = "llfreed.yaml") -> String {
        let path = directory + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), path)
        return path
    }

    func load(file: String? = nil, environment: [String: String] = [:], flags: [SettingKey: [String]] = [:]) async throws -> DaemonSettings {
        try await ConfigurationLoader.load(file: file, environment: environment, commandLine: flags, host: host)
    }

    func refusal(file: String? = nil, environment: [String: String] = [:], flags: [SettingKey: [String]] = [:]) async -> ConfigurationError? {
        do {
            _ = try await ConfigurationLoader.load(file: file, environment: environment, commandLine: flags, host: host)
            return nil
        } catch {
            return error
        }
    }

    func testDefaultsServeTheEmbeddedPool() async throws {
        let settings = try await load()
        XCTAssertEqual(settings.poolPath, "./llfreed.pool")
        XCTAssertTrue(settings.poolCreate, "the embedded default pool is created on first start")
        XCTAssertEqual(settings.poolSize, 1 << 30)
        XCTAssertEqual(settings.treeChildren, 32)
        XCTAssertEqual(settings.durability, .automatic)
        XCTAssertEqual(settings.socketPath, "/run/user/1000/llfreed.sock")
        XCTAssertEqual(settings.socketMode, 0o660)
        XCTAssertNil(settings.socketGroup)
        XCTAssertEqual(settings.threads, 3)
        XCTAssertTrue(settings.pin)
        XCTAssertTrue(settings.daemonOptions(ownUID: 1000).server.pinLoops)
        XCTAssertEqual(settings.logLevel, .info)
        XCTAssertEqual(settings.logFormat, .auto)
        XCTAssertNil(settings.metricsListen)
        XCTAssertTrue(settings.sources.values.allSatisfy { $0 == .default })
        XCTAssertEqual(settings.accessPolicy(ownUID: 1000), AccessPolicy(uids: [1000, 0]))
    }

    func testAPoolPathSetAnywhereIsNotCreatedUnlessAsked() async throws {
        let fromFlag = try await load(flags: [.poolPath: ["/srv/x.pool"]])
        XCTAssertFalse(fromFlag.poolCreate, "a mistyped path must not become a new pool")
        let asked = try await load(environment: ["LLFREED_POOL_PATH": "/srv/x.pool", "LLFREED_POOL_CREATE": "yes"])
        XCTAssertTrue(asked.poolCreate)
        XCTAssertEqual(asked.sources[.poolCreate], .environment("LLFREED_POOL_CREATE"))
    }

    func testFlagsOverrideEnvironmentOverrideFileOverrideDefaults() async throws {
        let file = write("""
            pool:
              path: /file.pool
              size: 64M
              durability: msync
            threads: 2
            log:
              level: debug
            """)
        let environment = ["LLFREED_POOL_SIZE": "128M", "LLFREED_THREADS": "4", "HOME": "/root", "POOL_SIZE": "9G"]
        let settings = try await load(file: file, environment: environment, flags: [.threads: ["1"]])
        XCTAssertEqual(settings.poolPath, "/file.pool")
        XCTAssertEqual(settings.sources[.poolPath], .file(file))
        XCTAssertEqual(settings.poolSize, 128 << 20)
        XCTAssertEqual(settings.sources[.poolSize], .environment("LLFREED_POOL_SIZE"))
        XCTAssertEqual(settings.threads, 1)
        XCTAssertEqual(settings.sources[.threads], .commandLine("--threads"))
        XCTAssertEqual(settings.durability, .msync)
        XCTAssertEqual(settings.logLevel, .debug)
        XCTAssertEqual(settings.treeChildren, 32)
        XCTAssertEqual(settings.sources[.poolTreeChildren], .default)
    }

    func testListsFromFileEnvironmentAndFlags() async throws {
        let file = write("access:\n  uids: [0, 1000]\n  gids: 5, 6\n")
        let fromFile = try await load(file: file)
        XCTAssertEqual(fromFile.allowUIDs, [0, 1000])
        XCTAssertEqual(fromFile.allowGIDs, [5, 6])
        XCTAssertEqual(fromFile.accessPolicy(ownUID: 1000), AccessPolicy(uids: [0, 1000], gids: [5, 6]))
        let fromEnvironment = try await load(file: file, environment: ["LLFREED_ACCESS_UIDS": "7,8"])
        XCTAssertEqual(fromEnvironment.allowUIDs, [7, 8])
        let fromFlags = try await load(file: file, flags: [.accessUIDs: ["9", "root"]])
        XCTAssertEqual(fromFlags.allowUIDs, [9, 0], "user names resolve to uids")
    }

    func testMetricsListen() async throws {
        let v4 = try await load(flags: [.metricsListen: ["127.0.0.1:9464"]]).metricsListen
        XCTAssertEqual(v4, .tcp(host: "127.0.0.1", port: 9464))
        let v6 = try await load(flags: [.metricsListen: ["[::1]:9464"]]).metricsListen
        XCTAssertEqual(v6, .tcp(host: "::1", port: 9464))
        let unix = try await load(flags: [.metricsListen: ["/run/llfreed/metrics.sock"]]).metricsListen
        XCTAssertEqual(unix, .unix(path: "/run/llfreed/metrics.sock"))
        let off = try await load(flags: [.metricsListen: ["off"]]).metricsListen
        XCTAssertNil(off)
        guard case .invalidValue(.metricsListen, "example.com:80", .commandLine("--metrics-listen"), let expected)? =
                await refusal(flags: [.metricsListen: ["example.com:80"]]) else { return XCTFail("a host name must be refused") }
        XCTAssertTrue(expected.contains("not an IP address"), expected)
    }

    func testBadValuesAreRefusedNamingKeySourceAndExpectation() async throws {
        let file = write("pool:\n  size: lots\n")
        let error = await refusal(file: file)
        XCTAssertEqual(error, .invalidValue(key: .poolSize, value: "lots", source: .file(file), expected: SettingKey.poolSize.expected))
        let text = "\(error!)"
        XCTAssertTrue(text.contains(file) && text.contains("pool.size") && text.contains("'lots'") && text.contains("nothing was opened"), text)

        let cases: [(SettingKey, String)] = [
            (.poolCreate, "maybe"), (.poolTreeChildren, "3"), (.poolTreeChildren, "0"), (.poolDurability, "fast"),
            (.socketMode, "0999"), (.socketMode, "1777"), (.socketGroup, "no-such-group-llfreed-test"), (.threads, "-1"),
            (.threads, "5000"), (.pin, "sometimes"), (.accessUIDs, "no-such-user-llfreed-test"), (.logLevel, "loud"), (.logFormat, "xml"),
            (.socketPath, String(repeating: "s", count: 200)), (.poolSize, "0"),
        ]
        for (key, value) in cases {
            let environment = [key.environmentName: value]
            guard case .invalidValue(let refusedKey, _, let source, _)? = await refusal(environment: environment) else {
                XCTFail("\(key.environmentName)=\(value) was accepted")
                continue
            }
            XCTAssertEqual(refusedKey, key)
            XCTAssertEqual(source, .environment(key.environmentName))
        }
    }

    func testFileProblemsAreRefused() async throws {
        let missing = directory + "/missing.yaml"
        guard case .unreadableFile(missing, _)? = await refusal(file: missing) else { return XCTFail("a missing file must be refused") }
        let typo = write("pool:\n  pth: /x\n")
        let typoRefusal = await refusal(file: typo)
        XCTAssertEqual(typoRefusal, .unknownKey(key: "pool.pth", file: typo, known: SettingKey.allCases.map(\.rawValue)))
        let section = write("colour: blue\n")
        guard case .unknownKey("colour", _, _)? = await refusal(file: section) else { return XCTFail("an unknown section must be refused") }
        let broken = write("pool: [1, 2\n")
        guard case .malformedFile(broken, _)? = await refusal(file: broken) else { return XCTFail("broken YAML must be refused") }
        let scalar = write("just text\n")
        guard case .malformedFile(scalar, _)? = await refusal(file: scalar) else { return XCTFail("a non-mapping must be refused") }
        let notMapping = write("pool: /x.pool\n")
        guard case .malformedFile(notMapping, let why)? = await refusal(file: notMapping) else { return XCTFail("a section given as a value must be refused") }
        XCTAssertTrue(why.contains("'pool' must be a mapping"), why)
        let list = write("pool:\n  path: [a, b]\n")
        guard case .invalidValue(.poolPath, _, .file(list), _)? = await refusal(file: list) else { return XCTFail("a list for a single value must be refused") }
    }

    func testAnEmptyFileMeansDefaults() async throws {
        let settings = try await load(file: write("# nothing set\n"))
        XCTAssertEqual(settings.poolPath, "./llfreed.pool")
    }

    /// The shipped example parses, sets what the service needs, and --check-config's output is
    /// itself a configuration file that reads back as the same settings.
    func testExampleFileAndRenderedOutputRoundTrip() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = repo.appendingPathComponent("config/llfreed.yaml").path
        let settings = try await load(file: example)
        XCTAssertEqual(settings.poolPath, "/var/lib/llfreed/llfreed.pool")
        XCTAssertTrue(settings.poolCreate)
        XCTAssertEqual(settings.socketPath, "/run/llfreed/llfreed.sock")
        // Every setting is documented in the example with its default.
        let text = try String(contentsOfFile: example, encoding: .utf8)
        for key in SettingKey.allCases {
            XCTAssertTrue(text.contains("\(key.components.last!):"), "config/llfreed.yaml does not mention \(key.rawValue)")
        }

        let custom = try await load(file: example, environment: ["LLFREED_ACCESS_GIDS": "0,5", "LLFREED_METRICS_LISTEN": "127.0.0.1:9464"],
                                    flags: [.socketMode: ["600"], .threads: ["2"], .logFormat: ["journal"]])
        let rendered = write(custom.rendered, name: "rendered.yaml")
        let again = try await load(file: rendered)
        for key in SettingKey.allCases {
            XCTAssertEqual(again.texts[key], custom.texts[key], "\(key.rawValue) did not survive --check-config output")
        }
        XCTAssertEqual(again.socketMode, 0o600)
        XCTAssertEqual(again.allowGIDs, [0, 5])
        XCTAssertEqual(again.metricsListen, .tcp(host: "127.0.0.1", port: 9464))
    }

    func testEnvironmentNamesFollowTheKeys() {
        XCTAssertEqual(SettingKey.poolTreeChildren.environmentName, "LLFREED_POOL_TREE_CHILDREN")
        XCTAssertEqual(SettingKey.metricsListen.environmentName, "LLFREED_METRICS_LISTEN")
        XCTAssertEqual(SettingKey.threads.environmentName, "LLFREED_THREADS")
        XCTAssertEqual(ConfigurationError.exitStatus, 78)
    }
}

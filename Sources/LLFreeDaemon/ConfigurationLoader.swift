// Reads llfreed's configuration with swift-configuration: command-line flags override
// environment variables (LLFREED_*), which override the YAML file, which overrides the defaults.
// Every value is checked here, before the daemon opens anything, and a refusal names the
// setting, where the value came from and what was expected.

import Configuration
import LLFree
import LLFreePool
import LLFreeProtocol
import LLFreeServer
import Logging
import SystemPackage
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// Loads and validates llfreed's settings.
public enum ConfigurationLoader {
    /// The embedded default pool: created (1 GiB, sparse) in the working directory on first start,
    /// so that `llfreed` with no arguments serves something.
    public static let defaultPoolPath = "./llfreed.pool"
    /// Size of the embedded default pool and of any pool created without a size.
    public static let defaultPoolSize: UInt64 = 1 << 30

    /// What the defaults depend on: the process's uid, runtime directory and CPUs.
    public struct Host: Sendable {
        public var uid: UInt32
        public var runtimeDirectory: String?
        public var cpus: Int

        public init(uid: UInt32, runtimeDirectory: String?, cpus: Int) {
            self.uid = uid
            self.runtimeDirectory = runtimeDirectory
            self.cpus = cpus
        }

        /// This process's.
        public static var current: Host {
            Host(uid: UInt32(getuid()), runtimeDirectory: getenv("XDG_RUNTIME_DIR").map { String(cString: $0) },
                 cpus: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        }
    }

    /// Reads the settings.
    /// - Parameters:
    ///   - file: the YAML file (`--config`, or `LLFREED_CONFIG`); nil for none.
    ///   - environment: the process environment; `LLFREED_*` variables are settings.
    ///   - commandLine: values given as flags, as text (several for a list setting).
    ///   - host: what the defaults depend on.
    /// - Throws: ``ConfigurationError`` for the first thing wrong; nothing was opened.
    public static func load(file: String?, environment: [String: String], commandLine: [SettingKey: [String]],
                            host: Host = .current) async throws(ConfigurationError) -> DaemonSettings {
        var providers: [(provider: any ConfigProvider, source: (SettingKey) -> SettingSource)] = []
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, values) in commandLine {
            flagValues[AbsoluteConfigKey(key.components)] = ConfigValue(key.isList ? .stringArray(values) : .string(values.last ?? ""), isSecret: false)
        }
        providers.append((InMemoryProvider(name: "command line", values: flagValues), { .commandLine($0.flag) }))
        // Only LLFREED_* variables are settings; the prefix keeps HOME or PATH from meaning anything.
        let settingsEnvironment = environment.filter { $0.key.hasPrefix("LLFREED_") && $0.key != "LLFREED_CONFIG" }
        providers.append((EnvironmentVariablesProvider(environmentVariables: settingsEnvironment).prefixKeys(with: "llfreed"),
                          { .environment($0.environmentName) }))
        if let file {
            if try checkFile(file) {
                let provider: FileProvider<YAMLSnapshot>
                do {
                    provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(file))
                } catch {
                    throw .malformedFile(path: file, reason: "\(error)")
                }
                providers.append((provider, { _ in .file(file) }))
            }
        }

        var texts: [SettingKey: [String]] = [:]
        var sources: [SettingKey: SettingSource] = [:]
        for key in SettingKey.allCases {
            for (provider, source) in providers {
                if let values = try lookup(key, in: provider, source: source(key)) {
                    texts[key] = values
                    sources[key] = source(key)
                    break
                }
            }
        }
        return try settings(texts: texts, sources: sources, file: file, host: host)
    }

    /// The value of `key` in `provider` as text (one element unless a list), or nil if unset.
    static func lookup(_ key: SettingKey, in provider: any ConfigProvider, source: SettingSource) throws(ConfigurationError) -> [String]? {
        let configKey = AbsoluteConfigKey(key.components)
        do {
            if key.isList {
                if let value = try? provider.value(forKey: configKey, type: .stringArray).value, case .stringArray(let list) = value.content {
                    return list.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
                }
                guard let value = try provider.value(forKey: configKey, type: .string).value, case .string(let text) = value.content else { return nil }
                return text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            }
            guard let value = try provider.value(forKey: configKey, type: .string).value else { return nil }
            if case .string(let text) = value.content { return [text] }
            return [value.description]
        } catch {
            throw .invalidValue(key: key, value: "(not a single value)", source: source, expected: key.expected)
        }
    }

    /// Reads and checks the file's structure: a mapping of known sections and keys. Returns false
    /// for a file with no settings at all (empty or only comments).
    static func checkFile(_ path: String) throws(ConfigurationError) -> Bool {
        let text: String
        do {
            text = try readFile(path)
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw .malformedFile(path: path, reason: "\(error)")
        }
        guard let node else { return false }
        guard case .mapping(let top) = node else {
            throw .malformedFile(path: path, reason: "the top level is not a mapping of settings")
        }
        let known = SettingKey.allCases.map(\.rawValue)
        for (keyNode, valueNode) in top {
            let name = keyNode.string ?? "\(keyNode)"
            let nested = SettingKey.allCases.filter { $0.components.count == 2 && $0.components[0] == name }
            if nested.isEmpty {
                guard SettingKey(rawValue: name) != nil else { throw .unknownKey(key: name, file: path, known: known) }
                continue
            }
            guard case .mapping(let section) = valueNode else {
                if case .scalar(let scalar) = valueNode, scalar.string.isEmpty || scalar.tag == .implicit && scalar.string == "~" { continue }
                throw .malformedFile(path: path, reason: "'\(name)' must be a mapping of \(nested.map { $0.components[1] }.joined(separator: ", "))")
            }
            for (subNode, _) in section {
                let sub = subNode.string ?? "\(subNode)"
                guard SettingKey(rawValue: "\(name).\(sub)") != nil else { throw .unknownKey(key: "\(name).\(sub)", file: path, known: known) }
            }
        }
        return true
    }

    static func readFile(_ path: String) throws(ConfigurationError) -> String {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: .closeOnExec)
        } catch {
            throw .unreadableFile(path: path, reason: "\(error)")
        }
        defer { try? fd.close() }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch {
                throw .unreadableFile(path: path, reason: "\(error)")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            guard bytes.count <= 1 << 20 else { throw .unreadableFile(path: path, reason: "larger than 1 MiB; not a configuration file") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformedFile(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    /// Builds the settings from the texts found, applying defaults and checking every value.
    static func settings(texts: [SettingKey: [String]], sources: [SettingKey: SettingSource], file: String?,
                         host: Host) throws(ConfigurationError) -> DaemonSettings {
        func text(_ key: SettingKey) -> String? { texts[key]?.last }
        func fail(_ key: SettingKey, _ value: String, _ expected: String? = nil) -> ConfigurationError {
            .invalidValue(key: key, value: value, source: sources[key] ?? .default, expected: expected ?? key.expected)
        }
        var shown: [SettingKey: String] = [:]
        var allSources = sources
        for key in SettingKey.allCases where allSources[key] == nil { allSources[key] = .default }

        let poolPath = text(.poolPath) ?? defaultPoolPath
        guard !poolPath.isEmpty else { throw fail(.poolPath, poolPath) }
        shown[.poolPath] = poolPath

        var poolFrames = FramesPlacement.auto
        if let value = text(.poolFrames)?.trimmingSpaces() {
            switch value {
            case "auto": poolFrames = .auto
            case "none": poolFrames = .none
            case "": throw fail(.poolFrames, value)
            default: poolFrames = .path(value)
            }
        }
        shown[.poolFrames] = poolFrames.description

        // Created by default only when it is the embedded default pool: a mistyped pool path must
        // not silently become a new, empty pool.
        var poolCreate = sources[.poolPath] == nil
        if let value = text(.poolCreate) {
            guard let flag = parseBool(value) else { throw fail(.poolCreate, value) }
            poolCreate = flag
        }
        shown[.poolCreate] = "\(poolCreate)"

        var poolSize = defaultPoolSize
        if let value = text(.poolSize) {
            do { poolSize = try SizeParser.parse(value) } catch { throw fail(.poolSize, value) }
        }
        var treeChildren = Geometry.defaultTreeChildren
        if let value = text(.poolTreeChildren) {
            guard let n = Int(value.trimmingSpaces()), n > 0, n <= Limits.maxTreeChildren, n & (n - 1) == 0 else {
                throw fail(.poolTreeChildren, value)
            }
            treeChildren = n
        }
        // The geometry a created pool would get, checked now rather than at format time.
        do {
            _ = try Geometry(frames: poolSize / UInt64(Geometry.frameSize), treeChildren: treeChildren)
        } catch {
            throw fail(.poolSize, text(.poolSize) ?? SizeParser.format(poolSize), "\(SettingKey.poolSize.expected) (\(error))")
        }
        shown[.poolSize] = SizeParser.format(poolSize)
        shown[.poolTreeChildren] = "\(treeChildren)"

        var durability = DurabilityRequest.automatic
        if let value = text(.poolDurability) {
            guard let request = DurabilityRequest(rawValue: value.trimmingSpaces()) else { throw fail(.poolDurability, value) }
            durability = request
        }
        shown[.poolDurability] = durability.rawValue

        let socketPath = text(.socketPath) ?? Wire.defaultSocketPath(uid: host.uid, runtimeDirectory: host.runtimeDirectory)
        guard !socketPath.isEmpty, socketPath.utf8.count <= Limits.maxSocketPath else { throw fail(.socketPath, socketPath) }
        shown[.socketPath] = socketPath

        var socketMode: UInt32 = 0o660
        if let value = text(.socketMode) {
            guard let mode = UInt32(value.trimmingSpaces(), radix: 8), mode <= 0o777 else { throw fail(.socketMode, value) }
            socketMode = mode
        }
        shown[.socketMode] = "0" + String(socketMode, radix: 8)

        var socketGroup: UInt32? = nil
        if let value = text(.socketGroup)?.trimmingSpaces(), !value.isEmpty {
            guard let gid = groupID(value) else { throw fail(.socketGroup, value, "\(SettingKey.socketGroup.expected); no such group") }
            socketGroup = gid
            shown[.socketGroup] = value
        } else {
            shown[.socketGroup] = ""
        }

        var threads = host.cpus
        if let value = text(.threads)?.trimmingSpaces() {
            if value == "auto" || value == "0" {
                threads = host.cpus
            } else {
                guard let n = Int(value), n >= 1, n <= Limits.maxThreads else { throw fail(.threads, value) }
                threads = n
            }
        }
        shown[.threads] = sources[.threads] == nil ? "auto" : "\(threads)"

        var pin = true
        if let value = text(.pin) {
            guard let flag = parseBool(value) else { throw fail(.pin, value) }
            pin = flag
        }
        shown[.pin] = "\(pin)"

        var uids: [UInt32] = []
        for value in texts[.accessUIDs] ?? [] {
            guard let uid = userID(value) else { throw fail(.accessUIDs, value, "\(SettingKey.accessUIDs.expected); no such user") }
            uids.append(uid)
        }
        var gids: [UInt32] = []
        for value in texts[.accessGIDs] ?? [] {
            guard let gid = groupID(value) else { throw fail(.accessGIDs, value, "\(SettingKey.accessGIDs.expected); no such group") }
            gids.append(gid)
        }
        shown[.accessUIDs] = (texts[.accessUIDs] ?? []).joined(separator: ", ")
        shown[.accessGIDs] = (texts[.accessGIDs] ?? []).joined(separator: ", ")
        var readOnlyUIDs: [UInt32] = []
        for value in texts[.accessReadOnlyUIDs] ?? [] {
            guard let uid = userID(value) else { throw fail(.accessReadOnlyUIDs, value, "\(SettingKey.accessReadOnlyUIDs.expected); no such user") }
            readOnlyUIDs.append(uid)
        }
        var readOnlyGIDs: [UInt32] = []
        for value in texts[.accessReadOnlyGIDs] ?? [] {
            guard let gid = groupID(value) else { throw fail(.accessReadOnlyGIDs, value, "\(SettingKey.accessReadOnlyGIDs.expected); no such group") }
            readOnlyGIDs.append(gid)
        }
        shown[.accessReadOnlyUIDs] = (texts[.accessReadOnlyUIDs] ?? []).joined(separator: ", ")
        shown[.accessReadOnlyGIDs] = (texts[.accessReadOnlyGIDs] ?? []).joined(separator: ", ")

        var logLevel = Logger.Level.info
        if let value = text(.logLevel) {
            guard let level = Logger.Level(rawValue: value.trimmingSpaces().lowercased()) else { throw fail(.logLevel, value) }
            logLevel = level
        }
        shown[.logLevel] = logLevel.rawValue

        var logFormat = LogFormat.auto
        if let value = text(.logFormat) {
            guard let format = LogFormat(rawValue: value.trimmingSpaces().lowercased()) else { throw fail(.logFormat, value) }
            logFormat = format
        }
        shown[.logFormat] = logFormat.rawValue

        var metrics: MetricsListen? = nil
        if let value = text(.metricsListen) {
            do {
                metrics = try MetricsListen.parse(value)
            } catch {
                throw fail(.metricsListen, value, "\(SettingKey.metricsListen.expected) (\(error.reason))")
            }
        }
        shown[.metricsListen] = metrics?.description ?? "off"

        var zeroCPU = 10
        if let value = text(.zeroCPU)?.trimmingSpaces() {
            guard let n = Int(value.hasSuffix("%") ? String(value.dropLast()) : value), n >= 0, n <= 100 else { throw fail(.zeroCPU, value) }
            zeroCPU = n
        }
        shown[.zeroCPU] = "\(zeroCPU)"

        var zeroReserve: UInt64 = 256 << 20
        if let value = text(.zeroReserve) {
            do { zeroReserve = try SizeParser.parse(value) } catch { throw fail(.zeroReserve, value) }
        }
        shown[.zeroReserve] = SizeParser.format(zeroReserve)

        var ringMax = ServerConfiguration.defaultMaxRings
        if let value = text(.ringMax)?.trimmingSpaces() {
            guard let n = Int(value), n >= 0, n <= 4096 else { throw fail(.ringMax, value) }
            ringMax = n
        }
        shown[.ringMax] = "\(ringMax)"

        return DaemonSettings(
            poolPath: poolPath, poolFrames: poolFrames, poolCreate: poolCreate, poolSize: poolSize, treeChildren: treeChildren, durability: durability,
            socketPath: socketPath, socketMode: socketMode, socketGroup: socketGroup, threads: threads, pin: pin, allowUIDs: uids,
            allowGIDs: gids, readOnlyUIDs: readOnlyUIDs, readOnlyGIDs: readOnlyGIDs, logLevel: logLevel, logFormat: logFormat, metricsListen: metrics, zeroCPU: zeroCPU,
            zeroReserve: zeroReserve, ringMax: ringMax, configFile: file,
            sources: allSources, texts: shown)
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.trimmingSpaces().lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    /// A uid from a number or a user name.
    static func userID(_ text: String) -> UInt32? {
        if let n = UInt32(text) { return n }
        guard let entry = getpwnam(text) else { return nil }
        return UInt32(entry.pointee.pw_uid)
    }

    /// A gid from a number or a group name.
    static func groupID(_ text: String) -> UInt32? {
        if let n = UInt32(text) { return n }
        guard let entry = getgrnam(text) else { return nil }
        return UInt32(entry.pointee.gr_gid)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}

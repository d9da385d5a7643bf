// llfreed's effective configuration: every setting's value after defaults, the file, the
// environment and the command line were applied in that order, and where each came from.
// Renders itself as a configuration file (what --check-config prints).

import LLFreePool
import LLFreeServer
import Logging

/// The effective settings of llfreed, validated.
public struct DaemonSettings: Sendable {
    /// The pool file.
    public var poolPath: String
    /// Where the frames are.
    public var poolFrames: FramesPlacement
    /// Create the pool when it is missing.
    public var poolCreate: Bool
    /// Bytes of frames of a pool this daemon creates.
    public var poolSize: UInt64
    /// Children per tree of a pool this daemon creates.
    public var treeChildren: Int
    /// The durability asked for.
    public var durability: DurabilityRequest
    /// The Unix socket (unless systemd passes one).
    public var socketPath: String
    /// The socket file's permission bits.
    public var socketMode: UInt32
    /// The socket file's group (nil: the daemon's own).
    public var socketGroup: UInt32?
    /// Event loops (each with its own allocator core).
    public var threads: Int
    /// Whether each event loop is pinned to a CPU.
    public var pin: Bool
    /// Users admitted besides the daemon's own (empty with ``allowGIDs`` empty: the daemon's uid and root).
    public var allowUIDs: [UInt32]
    /// Groups admitted.
    public var allowGIDs: [UInt32]
    /// Users who receive the frames descriptor read-only.
    public var readOnlyUIDs: [UInt32]
    /// Groups whose members receive it read-only.
    public var readOnlyGIDs: [UInt32]
    /// Least severe level logged.
    public var logLevel: Logger.Level
    /// Shape of log lines.
    public var logFormat: LogFormat
    /// Where the metrics endpoint listens (nil: off).
    public var metricsListen: MetricsListen?
    /// Percent of one CPU the idle zeroer may use (0: off).
    public var zeroCPU: Int
    /// Bytes of free huge frames kept in memory; the idle zeroer punches out the rest.
    public var zeroReserve: UInt64
    /// Shared-memory rings served at once (0: none).
    public var ringMax: Int
    /// The configuration file read, if any.
    public var configFile: String?
    /// Where each setting came from.
    public var sources: [SettingKey: SettingSource]
    /// Each setting's value as text, as a configuration file would spell it.
    public var texts: [SettingKey: String]

    /// Who is admitted: the default policy (the daemon's uid and root) unless uids or gids are
    /// configured, then those plus the daemon's own uid (so it can always reach itself).
    public func accessPolicy(ownUID: UInt32) -> AccessPolicy {
        if allowUIDs.isEmpty && allowGIDs.isEmpty {
            return AccessPolicy(uids: [ownUID, 0], readOnlyUIDs: Set(readOnlyUIDs), readOnlyGIDs: Set(readOnlyGIDs))
        }
        return AccessPolicy(uids: Set(allowUIDs).union([ownUID]), gids: Set(allowGIDs), readOnlyUIDs: Set(readOnlyUIDs), readOnlyGIDs: Set(readOnlyGIDs))
    }

    /// The options of ``Daemon/run(_:logger:ready:)``.
    public func daemonOptions(ownUID: UInt32) -> DaemonOptions {
        DaemonOptions(poolPath: poolPath, frames: poolFrames, create: poolCreate, size: poolSize, treeChildren: treeChildren, durability: durability,
                      server: ServerConfiguration(socketPath: socketPath, socketMode: socketMode, threads: threads,
                                                  access: accessPolicy(ownUID: ownUID), socketGroup: socketGroup,
                                                  pinLoops: pin, maxRings: ringMax),
                      metrics: metricsListen, zeroCPU: zeroCPU, zeroReserve: zeroReserve)
    }

    /// The effective configuration as a YAML configuration file, each value commented with its source.
    public var rendered: String {
        var lines = ["# llfreed effective configuration" + (configFile.map { " (file: \($0))" } ?? " (no configuration file)")]
        var section: String? = nil
        for key in SettingKey.allCases {
            let parts = key.components
            let indent: String
            if parts.count == 2 {
                if section != parts[0] {
                    lines.append("\(parts[0]):")
                    section = parts[0]
                }
                indent = "  "
            } else {
                section = nil
                indent = ""
            }
            let text = texts[key] ?? ""
            let value = key.isList ? "[\(text)]" : Self.quoted(text)
            lines.append("\(indent)\(parts.last!): \(value)  # \(sources[key] ?? .default)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` as a YAML scalar: plain when that reads back as the same string, quoted otherwise.
    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "./_-+@".contains($0) }
            && !text.hasPrefix("-")
        return plain ? text : "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

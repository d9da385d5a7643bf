// Every setting llfreed reads: its key in the configuration file, its environment variable, its
// command-line flag, and what a valid value looks like. One table, so that the file, the
// environment, the flags, --check-config and the error messages cannot disagree on a name.

/// A setting of llfreed.
public enum SettingKey: String, CaseIterable, Sendable, Comparable {
    case poolPath = "pool.path"
    case poolFrames = "pool.frames"
    case poolCreate = "pool.create"
    case poolSize = "pool.size"
    case poolTreeChildren = "pool.tree-children"
    case poolDurability = "pool.durability"
    case socketPath = "socket.path"
    case socketMode = "socket.mode"
    case socketGroup = "socket.group"
    case threads = "threads"
    case pin = "pin"
    case accessUIDs = "access.uids"
    case accessGIDs = "access.gids"
    case accessReadOnlyUIDs = "access.read-only-uids"
    case accessReadOnlyGIDs = "access.read-only-gids"
    case logLevel = "log.level"
    case logFormat = "log.format"
    case metricsListen = "metrics.listen"
    case zeroCPU = "zero.cpu"
    case zeroReserve = "zero.reserve"
    case ringMax = "ring.max"

    /// The key's components ("pool", "path"): nesting in the YAML file.
    public var components: [String] { rawValue.split(separator: ".").map(String.init) }

    /// The environment variable that sets it: `LLFREED_` and the key in upper case, `.` and `-`
    /// as `_` (the encoding swift-configuration's EnvironmentVariablesProvider applies).
    public var environmentName: String {
        "LLFREED_" + rawValue.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    /// The command-line flag that sets it.
    public var flag: String {
        switch self {
        case .poolPath: return "--pool"
        case .poolFrames: return "--frames"
        case .poolCreate: return "--create"
        case .poolSize: return "--size"
        case .poolTreeChildren: return "--tree-children"
        case .poolDurability: return "--durability"
        case .socketPath: return "--socket"
        case .socketMode: return "--socket-mode"
        case .socketGroup: return "--socket-group"
        case .threads: return "--threads"
        case .pin: return "--pin"
        case .accessUIDs: return "--allow-uid"
        case .accessGIDs: return "--allow-gid"
        case .accessReadOnlyUIDs: return "--read-only-uid"
        case .accessReadOnlyGIDs: return "--read-only-gid"
        case .logLevel: return "--log-level"
        case .logFormat: return "--log-format"
        case .metricsListen: return "--metrics-listen"
        case .zeroCPU: return "--zero-cpu"
        case .zeroReserve: return "--zero-reserve"
        case .ringMax: return "--max-rings"
        }
    }

    /// Whether the value is a list (a YAML sequence, a comma-separated environment variable, a
    /// repeated flag).
    public var isList: Bool { self == .accessUIDs || self == .accessGIDs || self == .accessReadOnlyUIDs || self == .accessReadOnlyGIDs }

    /// What a valid value looks like, for error messages and the example file.
    public var expected: String {
        switch self {
        case .poolPath: return "a path to the pool file"
        case .poolFrames: return "auto (POOL.frames for a pool created or split, none for a single-file pool), none (frames in the pool file) or a path to the frames object (a file or a device DAX device)"
        case .poolCreate: return "true or false"
        case .poolSize: return "a size: a whole number of bytes with an optional unit K, M, G, T (powers of 1024), e.g. 1G"
        case .poolTreeChildren: return "a power of two in 1...\(Limits.maxTreeChildren)"
        case .poolDurability: return "auto, cpu-cache or msync"
        case .socketPath: return "a path of 1...\(Limits.maxSocketPath) bytes for the Unix socket"
        case .socketMode: return "octal permission bits, e.g. 0660"
        case .socketGroup: return "a group name or number (empty: the daemon's own group)"
        case .threads: return "a number of event loops in 1...1024, or 0 (or auto) for one per CPU"
        case .pin: return "true or false (pin event loop i to the i-th CPU the daemon may use, round robin)"
        case .accessUIDs: return "a list of user names or numbers"
        case .accessGIDs: return "a list of group names or numbers"
        case .accessReadOnlyUIDs: return "a list of user names or numbers"
        case .accessReadOnlyGIDs: return "a list of group names or numbers"
        case .logLevel: return "trace, debug, info, notice, warning, error or critical"
        case .logFormat: return "auto, text or journal"
        case .metricsListen: return "empty or off (no metrics), HOST:PORT on an IP address (e.g. 127.0.0.1:9464), or a Unix socket path starting with / or ./"
        case .zeroReserve: return "a size (bytes, or with K, M, G, T): free huge frames kept in memory; the idle zeroer returns free huge frames beyond it to the host by punching holes into the frames file (none on a device DAX device)"
        case .zeroCPU: return "a whole percentage in 0...100 of one CPU the idle zeroer may use (0: off; free frames are then zeroed only when a get takes them)"
        case .ringMax: return "a whole number in 0...4096: shared-memory rings served at once, each a thread and 516 KiB (0: rings off)"
        }
    }

    public static func < (lhs: SettingKey, rhs: SettingKey) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

// Why llfreed's configuration was refused. Every case names the setting (or the file) and says
// what was expected; all of them are raised before any pool or socket is opened.

/// A configuration llfreed refuses. Nothing was opened, created or changed.
public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The configuration file is not valid YAML, or its top level is not a mapping.
    case malformedFile(path: String, reason: String)
    /// The file has a key llfreed does not know (a typo would otherwise be ignored silently).
    case unknownKey(key: String, file: String, known: [String])
    /// A value is not what the setting expects.
    case invalidValue(key: SettingKey, value: String, source: SettingSource, expected: String)

    /// The exit status for a refused configuration: EX_CONFIG from sysexits.h.
    public static let exitStatus: Int32 = 78

    public var description: String {
        let tail = "; nothing was opened"
        switch self {
        case .unreadableFile(let path, let reason):
            return "configuration file \(path): cannot be read: \(reason)\(tail)"
        case .malformedFile(let path, let reason):
            return "configuration file \(path): not a YAML mapping of llfreed settings: \(reason)\(tail)"
        case .unknownKey(let key, let file, let known):
            return "configuration file \(file): unknown key '\(key)'; expected one of \(known.joined(separator: ", "))\(tail)"
        case .invalidValue(let key, let value, let source, let expected):
            let place: String
            switch source {
            case .default: place = "default of \(key.rawValue)"
            case .file(let path): place = "configuration file \(path): \(key.rawValue)"
            case .environment(let name): place = "environment \(name) (\(key.rawValue))"
            case .commandLine(let flag): place = "command line \(flag) (\(key.rawValue))"
            }
            return "\(place): '\(value)' is invalid; expected \(expected)\(tail)"
        }
    }
}

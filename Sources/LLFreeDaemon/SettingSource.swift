// Where an effective setting came from, for --check-config and for error messages.

/// The origin of a setting's value.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// Nothing set it.
    case `default`
    /// The configuration file at this path.
    case file(String)
    /// This environment variable.
    case environment(String)
    /// This command-line flag.
    case commandLine(String)

    public var description: String {
        switch self {
        case .default: return "default"
        case .file(let path): return "file \(path)"
        case .environment(let name): return "environment \(name)"
        case .commandLine(let flag): return "command line \(flag)"
        }
    }
}

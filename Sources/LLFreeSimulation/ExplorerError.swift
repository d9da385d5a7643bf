// Why an exploration cannot start: a configuration field outside its range, or a pool layout
// the pool code refuses. Thrown at construction, before anything runs.

import LLFreePool

/// Why ``Explorer/init(config:)`` refused its configuration.
public enum ExplorerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field of ``ExplorerConfig`` named `field` holds `value`, outside `allowed`.
    case invalidConfig(field: String, value: String, allowed: String)
    /// The simulated pool's frames and tree size make no pool.
    case pool(PoolError)

    public var description: String {
        switch self {
        case .invalidConfig(let field, let value, let allowed): return "\(field) is \(value); it must be \(allowed)"
        case .pool(let error): return error.description
        }
    }
}

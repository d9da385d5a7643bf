// The operations a client can ask for, as numbered on the wire.

/// A request's operation code (the op byte of the header; replies set ``Wire/replyBit``).
public enum Operation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x01
    case get = 0x02
    case put = 0x03
    case isFree = 0x04
    case stats = 0x05
    case ping = 0x06

    public var description: String {
        switch self {
        case .hello: return "hello"
        case .get: return "get"
        case .put: return "put"
        case .isFree: return "is-free"
        case .stats: return "stats"
        case .ping: return "ping"
        }
    }
}

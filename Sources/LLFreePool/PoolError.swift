// Typed errors of the pool: every refusal names the file and the reason, and says whether the
// file was left as it was (every refusal does; only a failure half way through a format does not).

/// Why a pool could not be formatted, opened or inspected.
public struct PoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Equatable, Sendable {
        /// The file does not exist.
        case notFound
        /// Format refused to overwrite an existing file (use `force`).
        case exists
        /// The first 8 bytes are not the pool magic (the value found is given).
        case notAPool(magic: UInt64)
        /// A format version this build does not read.
        case wrongVersion(found: UInt64, supported: UInt64)
        /// The checksum over the immutable header fields does not match.
        case badChecksum(stored: UInt64, computed: UInt64)
        /// The file (or image) is shorter than the header says the pool is.
        case truncated(size: UInt64, needed: UInt64)
        /// The file is longer than the header says the pool is.
        case wrongSize(size: UInt64, expected: UInt64)
        /// Another opener holds the pool's lock.
        case locked
        /// Header fields that passed the checksum contradict each other, or the state word is
        /// neither clean nor dirty.
        case corrupt(String)
        /// A caller's argument is unusable (size, tree size, core count).
        case invalidArgument(String)
        /// A system or libpmem call failed.
        case system(SystemFailure)
    }

    /// The file (or image name) concerned.
    public let file: String
    public let reason: Reason
    /// Whether the file is byte for byte as it was before the call.
    public let unchanged: Bool

    public init(file: String, reason: Reason, unchanged: Bool = true) {
        self.file = file
        self.reason = reason
        self.unchanged = unchanged
    }

    public var description: String {
        let what: String
        switch reason {
        case .notFound: what = "no such file"
        case .exists: what = "the file exists; refusing to overwrite it without force"
        case .notAPool(let magic): what = "not an llfreed pool (magic 0x\(String(magic, radix: 16)), expected 0x\(String(PoolHeader.magic, radix: 16)))"
        case .wrongVersion(let found, let supported): what = "pool format version \(found), this build writes \(supported) (3 split) and reads \(PoolHeader.readableVersions.lowerBound)...\(PoolHeader.readableVersions.upperBound)"
        case .badChecksum(let stored, let computed): what = "header checksum 0x\(String(stored, radix: 16)) does not match its fields (0x\(String(computed, radix: 16))): the header is damaged"
        case .truncated(let size, let needed): what = "truncated: \(size) bytes, the pool needs \(needed)"
        case .wrongSize(let size, let expected): what = "wrong size: \(size) bytes, the header says \(expected)"
        case .locked: what = "locked: another process (or opener) has the pool open"
        case .corrupt(let why): what = "corrupt header: \(why)"
        case .invalidArgument(let why): what = "invalid argument: \(why)"
        case .system(let failure): what = failure.description
        }
        return "\(file): \(what); " + (unchanged ? "the file was not changed" : "the file is not a usable pool")
    }
}

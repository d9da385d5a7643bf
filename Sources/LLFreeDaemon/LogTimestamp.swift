// A wall-clock instant for log timestamps, from clock_gettime, without Foundation.

#if canImport(Glibc)
import LLFreeServer
import Glibc
#endif

/// A UTC instant with millisecond text.
public struct LogTimestamp: Sendable {
    public let seconds: Int
    public let nanoseconds: Int

    /// Now.
    public static var now: LogTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return LogTimestamp(seconds: ts.tv_sec, nanoseconds: ts.tv_nsec)
    }

    /// `2025-01-01T12:00:00.123Z`.
    public var iso8601: String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(nanoseconds / 1_000_000), 3))Z"
    }
}

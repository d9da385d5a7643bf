// Durations as people read them, for llfreed's log lines and llfree-ctl's output alike: Swift's
// own description ("0.00175529 seconds", "8.1e-08 seconds") makes a reader count digits. It lives
// here because the protocol module is the one both the daemon and the CLI already depend on.

/// A duration in the largest unit of ns, µs, ms and s that keeps it at 1 or more, with three
/// significant digits: "81 ns", "5.09 ms", "1.76 ms", "2.50 s", "12.0 µs".
///
/// Nanoseconds are whole (a duration's finer part is rounded off); a duration that rounds up
/// to 1000 of a unit is shown in the next ("999.7 µs" is "1.00 ms"); seconds have no larger
/// unit ("4000 s").
public struct ReadableDuration: Sendable, Equatable, CustomStringConvertible {
    /// The duration shown.
    public var duration: Duration

    public init(_ duration: Duration) {
        self.duration = duration
    }

    public var description: String {
        let (seconds, attoseconds) = duration.components
        // Double holds far more than three significant digits of any duration's nanoseconds.
        let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = abs(nanoseconds)
        if magnitude.rounded() < 1000 { return "\(sign)\(Int(magnitude.rounded())) ns" }
        for (scale, unit) in [(1e3, "µs"), (1e6, "ms"), (1e9, "s")] {
            let value = magnitude / scale
            let decimals = value < 9.995 ? 2 : value < 99.95 ? 1 : 0
            let text = Self.fixed(value, decimals: decimals)
            // 999.5 and up would show four digits (or round to "1000"): the next unit shows it.
            if unit == "s" || value < 999.5 {
                return "\(sign)\(text) \(unit)"
            }
        }
        preconditionFailure("seconds is the last unit")
    }

    /// `value` rounded to `decimals` places, as digits (no Foundation formatting here).
    private static func fixed(_ value: Double, decimals: Int) -> String {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let scaled = (value * factor).rounded()
        guard scaled < 9e18 else { return "\(Int64.max)" }
        let whole = Int64(scaled)
        let divisor = Int64(factor)
        let integerPart = whole / divisor
        guard decimals > 0 else { return "\(integerPart)" }
        let fraction = String(whole % divisor)
        return "\(integerPart)." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
}

// Parses and prints byte sizes the way the tools take them: "4096", "64K", "512M", "1G", "4T",
// binary multiples, an optional "B" or "iB" after the unit.

/// Byte sizes with binary unit suffixes.
public enum SizeParser {
    /// Why a size could not be parsed.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "size '\(text)': \(reason)" }
    }

    private static let units: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60]

    /// Parses `text`: digits, then optionally K, M, G, T, P or E (powers of 1024, any case),
    /// optionally followed by "B" or "iB". A bare number is bytes.
    public static func parse(_ text: String) throws(Failure) -> UInt64 {
        var s = Substring(text.trimmingSpaces())
        let upper = s.uppercased()
        if upper.hasSuffix("IB") { s = s.dropLast(2) } else if upper.hasSuffix("B") { s = s.dropLast(1) }
        var shift = 0
        if let last = s.last?.uppercased().first, let unit = units[last] {
            shift = unit
            s = s.dropLast()
        } else if upper.hasSuffix("IB") {
            throw Failure(text: text, reason: "'iB' needs a unit before it (K, M, G, T, P, E)")
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(s) else {
            throw Failure(text: text, reason: "expected a whole number with an optional unit K, M, G, T, P or E (powers of 1024)")
        }
        guard shift == 0 || value <= UInt64.max >> UInt64(shift) else {
            throw Failure(text: text, reason: "too large")
        }
        return value << UInt64(shift)
    }

    /// `bytes` with the largest binary unit that divides it exactly ("1G", "1536M", "4097").
    public static func format(_ bytes: UInt64) -> String {
        for (unit, shift) in [("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
            if bytes != 0 && bytes & ((UInt64(1) << UInt64(shift)) - 1) == 0 { return "\(bytes >> UInt64(shift))\(unit)" }
        }
        return "\(bytes)"
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

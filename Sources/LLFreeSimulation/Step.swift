// One step of a simulated client, explicit and printable, so that a workload can be written
// down, replayed from text and shrunk by leaving steps out.

import LLFree

/// A step of the simulated workload.
///
/// Text form (space separated in a script): `g<order><f|m|h>` get, `a<frame>/<order>` get of a
/// given frame, `p<n>` put of the n-th held run (modulo the runs held), `s<n>/<order>/<slot>` put
/// of part of the n-th held run if it is a huge frame (a split), `x<frame>` put of a frame
/// nobody holds (must be refused), `d` drain, `r` close the pool and open it again (one thread).
public enum Step: Sendable, Equatable, CustomStringConvertible {
    case get(order: Int, kind: Kind)
    case getAt(frame: UInt64, order: Int)
    case put(held: Int)
    case split(held: Int, order: Int, slot: Int)
    case doubleFree(frame: UInt64)
    case drain
    case reopen

    public var description: String {
        switch self {
        case .get(let o, let k): return "g\(o)\(k.description.prefix(1))"
        case .getAt(let f, let o): return "a\(f)/\(o)"
        case .put(let n): return "p\(n)"
        case .split(let n, let o, let slot): return "s\(n)/\(o)/\(slot)"
        case .doubleFree(let f): return "x\(f)"
        case .drain: return "d"
        case .reopen: return "r"
        }
    }

    /// Parses the text form; nil if it is not a step.
    public init?(_ text: Substring) {
        guard let tag = text.first else { return nil }
        let rest = text.dropFirst()
        let numbers = rest.split(separator: "/").map { UInt64($0.filter(\.isNumber)) }
        switch tag {
        case "g":
            guard let last = rest.last, let o = Int(rest.dropLast()) else { return nil }
            let kinds: [Character: Kind] = ["f": .fixed, "m": .movable, "h": .huge]
            guard let k = kinds[last] else { return nil }
            self = .get(order: o, kind: k)
        case "a":
            guard numbers.count == 2, let f = numbers[0], let o = numbers[1] else { return nil }
            self = .getAt(frame: f, order: Int(o))
        case "p":
            guard let n = Int(rest) else { return nil }
            self = .put(held: n)
        case "s":
            guard numbers.count == 3, let n = numbers[0], let o = numbers[1], let slot = numbers[2] else { return nil }
            self = .split(held: Int(n), order: Int(o), slot: Int(slot))
        case "x":
            guard let f = UInt64(rest) else { return nil }
            self = .doubleFree(frame: f)
        case "d":
            guard rest.isEmpty else { return nil }
            self = .drain
        case "r":
            guard rest.isEmpty else { return nil }
            self = .reopen
        default:
            return nil
        }
    }

    /// Parses a script of space-separated steps.
    public static func script(_ text: String) -> [Step]? {
        let steps = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }).map { Step($0) }
        return steps.contains(where: { $0 == nil }) ? nil : steps.compactMap { $0 }
    }
}

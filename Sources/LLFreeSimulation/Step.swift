// One step of a simulated client, explicit and printable, so that a workload can be written
// down, replayed from text and shrunk by leaving steps out.

import LLFree

/// A step of the simulated workload.
///
/// Text form (space separated in a script): `g<order><f|m|h>@<k>` get for the k-th owner the
/// workload created, `a<frame>/<order>@<k>` get of a given frame for it (`@<k>` left out: the
/// first owner), `p<n>` put of the n-th held run (modulo the runs held) by its holder,
/// `s<n>/<order>/<slot>` put of part of the n-th held run if it is a huge frame (a split),
/// `w<n>/<k>` put of the n-th held run by another owner (the holder's index plus 1 + k, modulo the
/// owners; must be refused and change nothing), `c<k>/<v>` compare-and-set of the k-th owner's
/// root to a value made from v, `x<frame>` put of a frame nobody holds (must be refused), `d`
/// drain, `r` close the pool and open it again (one thread), `b<count>@<k>` a batch get of `count`
/// order-0 frames for the k-th owner and `P<n>/<count>` a batch put of up to `count` held order-0
/// runs of one holder from the n-th held run on (both through the core's bulk path), `z<n>` the
/// idle zeroer's step (one free huge frame, searched from child n / 2: for an even n one not
/// known zero, zeros written; for an odd n any, reclaimed by a punched hole).
public enum Step: Sendable, Equatable, CustomStringConvertible {
    case get(order: Int, kind: Kind, owner: Int = 0)
    case getAt(frame: UInt64, order: Int, owner: Int = 0)
    case put(held: Int)
    /// A batch get of `count` order-0 frames (the bulk path).
    case getBatch(count: Int, owner: Int = 0)
    /// A batch put of up to `count` held order-0 runs of one holder (the bulk path).
    case putBatch(held: Int, count: Int)
    case split(held: Int, order: Int, slot: Int)
    case wrongPut(held: Int, other: Int)
    case setRoot(owner: Int, value: Int)
    /// Sets the quota of one of the owners (`value` 0: none).
    case setQuota(owner: Int, value: Int)
    /// Creates temporary owner `slot` (of 3) if it is not live, else removes it (they hold nothing).
    case churn(slot: Int)
    case doubleFree(frame: UInt64)
    /// The idle zeroer zeroes one free huge frame, searching from child `from`.
    case zero(from: Int)
    case drain
    case reopen

    public var description: String {
        switch self {
        case .get(let o, let k, let w): return "g\(o)\(k.description.prefix(1))" + (w == 0 ? "" : "@\(w)")
        case .getAt(let f, let o, let w): return "a\(f)/\(o)" + (w == 0 ? "" : "@\(w)")
        case .wrongPut(let n, let k): return "w\(n)/\(k)"
        case .setRoot(let w, let v): return "c\(w)/\(v)"
        case .setQuota(let w, let v): return "q\(w)/\(v)"
        case .churn(let slot): return "t\(slot)"
        case .put(let n): return "p\(n)"
        case .getBatch(let c, let w): return "b\(c)" + (w == 0 ? "" : "@\(w)")
        case .putBatch(let n, let c): return "P\(n)/\(c)"
        case .split(let n, let o, let slot): return "s\(n)/\(o)/\(slot)"
        case .doubleFree(let f): return "x\(f)"
        case .zero(let n): return "z\(n)"
        case .drain: return "d"
        case .reopen: return "r"
        }
    }

    /// Parses the text form; nil if it is not a step.
    public init?(_ text: Substring) {
        guard let tag = text.first else { return nil }
        var rest = text.dropFirst()
        var owner = 0
        if tag == "g" || tag == "a" || tag == "b", let at = rest.firstIndex(of: "@") {
            guard let k = Int(rest[rest.index(after: at)...]), k >= 0 else { return nil }
            owner = k
            rest = rest[..<at]
        }
        let numbers = rest.split(separator: "/").map { UInt64($0.filter(\.isNumber)) }
        switch tag {
        case "g":
            guard let last = rest.last, let o = Int(rest.dropLast()) else { return nil }
            let kinds: [Character: Kind] = ["f": .fixed, "m": .movable, "h": .huge]
            guard let k = kinds[last] else { return nil }
            self = .get(order: o, kind: k, owner: owner)
        case "a":
            guard numbers.count == 2, let f = numbers[0], let o = numbers[1] else { return nil }
            self = .getAt(frame: f, order: Int(o), owner: owner)
        case "p":
            guard let n = Int(rest) else { return nil }
            self = .put(held: n)
        case "b":
            guard let c = Int(rest), c > 0 else { return nil }
            self = .getBatch(count: c, owner: owner)
        case "P":
            guard numbers.count == 2, let n = numbers[0], let c = numbers[1], c > 0 else { return nil }
            self = .putBatch(held: Int(n), count: Int(c))
        case "s":
            guard numbers.count == 3, let n = numbers[0], let o = numbers[1], let slot = numbers[2] else { return nil }
            self = .split(held: Int(n), order: Int(o), slot: Int(slot))
        case "w":
            guard numbers.count == 2, let n = numbers[0], let k = numbers[1] else { return nil }
            self = .wrongPut(held: Int(n), other: Int(k))
        case "c":
            guard numbers.count == 2, let k = numbers[0], let v = numbers[1] else { return nil }
            self = .setRoot(owner: Int(k), value: Int(v))
        case "q":
            guard numbers.count == 2, let k = numbers[0], let v = numbers[1] else { return nil }
            self = .setQuota(owner: Int(k), value: Int(v))
        case "t":
            guard let slot = Int(rest), slot >= 0 else { return nil }
            self = .churn(slot: slot)
        case "x":
            guard let f = UInt64(rest) else { return nil }
            self = .doubleFree(frame: f)
        case "z":
            guard let n = Int(rest), n >= 0 else { return nil }
            self = .zero(from: n)
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

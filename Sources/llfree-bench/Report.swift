// Formatting of results: the readable table, one JSON object per line for --json, the metadata
// overhead.

/// Text output of the paper command.
enum Report {
    /// `value` with `decimals` digits after the point (no Foundation needed).
    static func fixed(_ value: Double, _ decimals: Int = 1) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let frac = Int(scaled - Double(whole) * scale)
        var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let digits = String(frac)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.append(ch)
            }
        }
        return out
    }

    /// One JSON object (one line) for `row`.
    static func json(_ row: ResultRow) -> String {
        var fields: [(String, String)] = [
            ("bench", "\"\(row.bench.rawValue)\""),
            ("allocator", "\"\(escape(row.allocator))\""),
            ("order", String(row.order)),
            ("threads", String(row.threads)),
            ("get_ns", fixed(row.getNs, 2)),
            ("put_ns", fixed(row.putNs, 2)),
        ]
        if row.bench == .repeat { fields.append(("pair_ns", fixed(row.getNs, 2))) }
        fields += [
            ("runs", String(row.runs)),
            ("ops_per_thread", String(row.allocs)),
            ("memory_gib", String(row.memoryGiB)),
            ("metadata_bytes_per_gib", String(row.metadataBytesPerGiB)),
        ]
        if let calls = row.getCalls {
            fields += [("get_stored_per_op", fixed(calls.stored, 3)), ("get_flushes_per_op", fixed(calls.flushes, 3)),
                       ("get_fences_per_op", fixed(calls.fences, 3))]
        }
        if let calls = row.putCalls, row.bench != .repeat {
            fields += [("put_stored_per_op", fixed(calls.stored, 3)), ("put_flushes_per_op", fixed(calls.flushes, 3)),
                       ("put_fences_per_op", fixed(calls.fences, 3))]
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func calls(_ rates: PersistenceRates?) -> String {
        guard let rates else { return "" }
        return "\(fixed(rates.stored, 2))/\(fixed(rates.flushes, 2))/\(fixed(rates.fences, 2))"
    }

    /// The table header.
    static func header() -> String {
        pad("bench", 7, left: true) + pad("order", 6) + pad("threads", 8) + "  " + pad("allocator", 24, left: true)
            + pad("get ns", 9) + pad("put ns", 9) + pad("get/LL", 8) + pad("put/LL", 8)
            + "  persistence calls per op, stored/flush/fence (get; put)"
    }

    /// One table line; `reference` is the LLFree/volatile row of the same group, for ratios.
    static func line(_ row: ResultRow, reference: ResultRow?) -> String {
        let pair = row.bench == .repeat
        var text = pad(row.bench.rawValue, 7, left: true) + pad(String(row.order), 6) + pad(String(row.threads), 8) + "  "
            + pad(row.allocator, 24, left: true)
        text += pad(fixed(row.getNs), 9) + pad(pair ? "(pair)" : fixed(row.putNs), 9)
        if let reference {
            text += pad(fixed(row.getNs / reference.getNs, 2), 8) + pad(pair ? "" : fixed(row.putNs / reference.putNs, 2), 8)
        } else {
            text += pad("", 16)
        }
        if row.getCalls != nil {
            text += "  " + calls(row.getCalls) + (pair ? " per pair" : "; " + calls(row.putCalls))
        }
        return text
    }
}

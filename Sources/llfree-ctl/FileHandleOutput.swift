// Writing to stderr from the online verbs, and a progress line that rewrites itself.

#if canImport(Glibc)
import Glibc
#endif

/// Output helpers of the online verbs.
enum FileHandleOutput {
    /// Writes `text` and a newline to stderr.
    static func standardError(_ text: String) {
        write(text + "\n")
    }

    /// Rewrites the current stderr line with `text` (a progress line).
    static func progress(_ text: String) {
        write("\r\u{1B}[K" + text)
    }

    /// Unbuffered write to file descriptor 2 (C's `stderr` is shared mutable state to Swift 6).
    private static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

// Writing to stderr from the online verbs, and a progress line that rewrites itself.

import SystemPackage

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

    /// Unbuffered write to file descriptor 2 (C's `stderr` is shared mutable state to Swift 6);
    /// a failed write of a message to stderr has nowhere to be reported.
    private static func write(_ text: String) {
        _ = try? FileDescriptor.standardError.writeAll(Array(text.utf8))
    }
}

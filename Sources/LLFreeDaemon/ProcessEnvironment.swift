// The process environment as a dictionary, read from `environ` (no Foundation needed).

#if canImport(Glibc)
import LLFreeServer
import Glibc
#endif

/// Reads the process environment.
public enum ProcessEnvironment {
    /// Every variable of this process now.
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// Device and inode of standard error, to compare with JOURNAL_STREAM.
    public static var standardErrorIdentity: (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard fstat(2, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}

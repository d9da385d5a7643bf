// Constants of the llfreed wire protocol: header layout, version and limits. docs/protocol.md
// is the normative description; these values must match it.

/// Fixed facts of the wire format shared by the codec, the server and the clients.
public enum Wire {
    /// The protocol version this codec speaks.
    public static let version: UInt8 = 1
    /// Bytes of the length field that starts every message.
    public static let lengthSize = 4
    /// Bytes of a whole header, length field included: length u32, version u8, op u8,
    /// status u16, id u64.
    public static let headerSize = 16
    /// Largest value of the length field (bytes after it). Larger values are refused before
    /// any of the message is read, so a client cannot make the server buffer without bound.
    public static let maxLength = 256 * 1024
    /// Most frames one get or put may name.
    public static let maxBatch = 16384
    /// Largest order the codec accepts; the pool's own maximum (hello) is usually lower.
    public static let maxOrder = 63
    /// Most bytes of UTF-8 text in an error reply.
    public static let maxMessage = 1024
    /// Most bytes of the pool path in a hello reply.
    public static let maxPath = 4096
    /// Bit set in the op byte of every reply.
    public static let replyBit: UInt8 = 0x80
    /// The op byte of a reply to a message whose header could not be read (bad length).
    public static let framingErrorOp: UInt8 = 0xFF

    /// The socket path daemon and clients agree on by default: `/run/llfreed/llfreed.sock` for
    /// root, `$XDG_RUNTIME_DIR/llfreed.sock` otherwise, `/tmp/llfreed-UID/llfreed.sock` when
    /// there is no runtime directory.
    public static func defaultSocketPath(uid: UInt32, runtimeDirectory: String?) -> String {
        if uid == 0 { return "/run/llfreed/llfreed.sock" }
        if let runtimeDirectory, !runtimeDirectory.isEmpty { return runtimeDirectory + "/llfreed.sock" }
        return "/tmp/llfreed-\(uid)/llfreed.sock"
    }
}

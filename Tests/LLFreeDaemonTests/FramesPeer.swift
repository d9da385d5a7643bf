// A stand-in for a protocol-version-3 llfreed on a real Unix socket, for the C client's side of
// the frames descriptor (op 0x10) as specified: hello negotiates min(max, 3), attach answers an
// owner record, frames answers its 40-byte body in one sendmsg carrying one SCM_RIGHTS
// descriptor, ping answers (optionally with a descriptor nobody asked for). Only what the
// client's handshake and these tests send is understood.

import Foundation
import LLFreeProtocol
import LLFreeTestSupport

final class FramesPeer: @unchecked Sendable {
    /// How the peer answers a frames request.
    enum FramesAnswer {
        /// The descriptor, with the reply's access, layout, frames offset and frames.
        case descriptor(fd: Int32, access: UInt8, layout: UInt8, offset: UInt64, frames: UInt64)
        /// unknownOperation, as a daemon older than version 3 does.
        case unknownOperation
    }

    let socket: String
    let uuid: [UInt8]
    private let listener: Int32
    private let framesAnswer: FramesAnswer
    private let poolPath: String
    private let pingDescriptor: Int32?
    private let metadataReachable: Bool
    private let lock = NSLock()
    private var framesAlone: Bool? = nil
    private var thread: Thread?

    /// Whether the frames request arrived with nothing after it (nil: none arrived).
    var framesRequestWasAlone: Bool? { lock.withLock { framesAlone } }

    /// `metadataReachable`: hello's flag (a single-file pool at `poolPath`; else a split pool's
    /// frames object).
    init(directory: String, uuid: [UInt8], poolPath: String, frames: FramesAnswer, pingDescriptor: Int32? = nil,
         metadataReachable: Bool = true) throws {
        self.metadataReachable = metadataReachable
        socket = directory + "/peer.sock"
        self.uuid = uuid
        self.poolPath = poolPath
        framesAnswer = frames
        self.pingDescriptor = pingDescriptor
        listener = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socket.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw TestFailure("bind \(socket): \(String(cString: strerror(errno)))") }
        let thread = Thread { [self] in serve() }
        self.thread = thread
        thread.start()
    }

    /// Stops accepting (the connection being served ends when the client closes it).
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { close(listener) }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ fd: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            while buffer.count >= 16, let length = Optional(Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24),
                  buffer.count >= 4 + length {
                let op = buffer[5]
                let id = buffer[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                let body = Array(buffer[16..<(4 + length)])
                buffer.removeFirst(4 + length)
                respond(fd, op: op, id: id, body: body, more: !buffer.isEmpty)
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            buffer += chunk[0..<n]
        }
    }

    private func respond(_ fd: Int32, op: UInt8, id: UInt64, body: [UInt8], more: Bool) {
        switch op {
        case 0x01:
            let max = UInt16(body[2]) | UInt16(body[3]) << 8
            let info = PoolInfo(version: min(max, 3), durability: .cpuCache, maxOrder: 3, frameSize: 4096, frames: 8,
                                framesOffset: 4096, children: 1, treeChildren: 1, trees: 1, maxBatch: 16384, cores: 1,
                                uuid: uuid, path: poolPath, metadataReachable: metadataReachable)
            send(fd, WireCodec.encode(ReplyMessage(id: id, .hello(info))))
        case 0x07:
            let owner = OwnerInfo(id: 1, kind: .persistent, created: true, name: "peer", held: 0, quota: nil,
                                  connections: 1, uid: getuid(), gid: nil)
            send(fd, WireCodec.encode(ReplyMessage(id: id, .attach(owner))))
        case 0x10:
            lock.withLock { framesAlone = !more }
            switch framesAnswer {
            case .unknownOperation:
                send(fd, WireCodec.encode(ReplyMessage(id: id, .error(op: 0x90, ReplyError(.unknownOperation, "no op 0x10 here")))))
            case .descriptor(let passed, let access, let layout, let offset, let frames):
                var reply = Self.header(op: 0x90, id: id, body: 40)
                reply += [access, layout, 0, 0] + Self.le(UInt64(4096), 4) + Self.le(offset, 8) + Self.le(frames, 8) + uuid
                Self.sendPassing(fd, reply, passed)
            }
        case 0x06:
            let reply = Self.header(op: 0x86, id: id, body: 0)
            if let pingDescriptor { Self.sendPassing(fd, reply, pingDescriptor) } else { send(fd, reply) }
        default:
            send(fd, WireCodec.encode(ReplyMessage(id: id, .error(op: op | 0x80, ReplyError(.unknownOperation, "not in this peer")))))
        }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    static func le(_ value: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    static func header(op: UInt8, id: UInt64, body: Int) -> [UInt8] {
        le(UInt64(12 + body), 4) + [1, op, 0, 0] + le(id, 8)
    }

    /// One sendmsg of `bytes` with `passed` as SCM_RIGHTS. The control message is laid out by
    /// hand (Swift has no CMSG_* macros): on 64-bit Linux a cmsghdr is len (8 bytes), level (4),
    /// type (4), then the data; CMSG_LEN(4) = 20, CMSG_SPACE(4) = 24.
    static func sendPassing(_ fd: Int32, _ bytes: [UInt8], _ passed: Int32) {
        var control = [UInt8](repeating: 0, count: 24)
        control.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: 20, toByteOffset: 0, as: Int.self)
            raw.storeBytes(of: Int32(SOL_SOCKET), toByteOffset: 8, as: Int32.self)
            raw.storeBytes(of: 1, toByteOffset: 12, as: Int32.self)  // SCM_RIGHTS
            raw.storeBytes(of: passed, toByteOffset: 16, as: Int32.self)
        }
        var data = bytes
        data.withUnsafeMutableBytes { payload in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
                withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    _ = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }
}

// `llfree-bench request-path`: the daemon's request path in process, without a socket, so that
// its cost can be timed and counted (callgrind) apart from the transport's. A pool with owners is
// formatted and opened on --dir (cpu-cache durability, as llfreed serves /dev/shm), and an
// LLFreeServer is built over it exactly as llfreed builds one (a concrete allocator class per
// persistence type, the pool's owner table). Two paths:
//
// - `pipeline`: the server's own connection handlers on an EmbeddedChannel (the NIO pipeline,
//   the request decoder, the connection handler and state machine, the request processor, the
//   reply's encoding into an outbound ByteBuffer): everything of a round trip but the socket's
//   read and write and the event loop's epoll_wait.
// - `processor`: the codec and the request processor alone (what the pipeline adds is NIO's).
// - `fast`: the processor's fast path alone (RequestProcessor.answerFast, as the connection
//   handler and a ring's server call it): no request or reply value, the reply written into a
//   reused ByteBuffer.
//
// Each round of an operation is one request (ping) or a get and the put of its frames. Under
// callgrind, `--toggle-collect='*RequestPathCommand*measure*'` counts only the measured loops;
// divide by the rounds (and by 2 for a get+put pair) for instructions per request.

import ArgumentParser
import Foundation
import LLFree
import LLFreePool
import LLFreeProtocol
import LLFreeDaemon
@_spi(Benchmarks) import LLFreeServer
import Logging
import NIOCore
import NIOEmbedded

struct RequestPathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-path",
        abstract: "The daemon's request path in process (no socket): ns per request, for callgrind's instruction counts.",
        discussion: "Formats and opens a pool with owners on --dir (cpu-cache) and serves it with the server's own code. --path pipeline runs the connection handlers on an EmbeddedChannel (NIO pipeline, decoder, handler, processor, encoder); --path processor runs the codec and the request processor alone; --path fast runs the processor's fast path alone (answerFast, as the connection handler and a ring's server call it). Operations: ping (one request per round), get1 and get256 (a get of 1 or 256 order-0 frames and the put of them per round). Under callgrind, --toggle-collect='*RequestPathCommand*measure*' counts only the measured loops.")

    @Option(help: "Directory of the pool file (a tmpfs such as /dev/shm, as llfreed serves in the benchmarks).")
    var dir = "/dev/shm"

    @Option(help: "Size of the pool's frames area.")
    var size = "1G"

    @Option(help: "Rounds per operation (after a tenth as many to warm up).")
    var rounds = 200_000

    @Option(help: "pipeline (the server's connection handlers on an EmbeddedChannel), processor (codec and request processor) or fast (the processor's fast path).")
    var path = "pipeline"

    @Option(parsing: .upToNextOption, help: "Operations: ping, get1, get256.")
    var op: [String] = ["ping", "get1", "get256"]

    @Flag(help: "One JSON object per operation.")
    var json = false

    func run() throws {
        guard ["pipeline", "processor", "fast"].contains(path) else { throw ValidationError("--path is pipeline, processor or fast, not \(path)") }
        for o in op where !["ping", "get1", "get256"].contains(o) { throw ValidationError("unknown operation \(o); use ping, get1, get256") }
        let bytes: UInt64
        do { bytes = try SizeParser.parse(size) } catch { throw ValidationError(error.description) }
        let file = "\(dir)/llfree-bench-request-path-\(getpid()).pool"
        unlink(file)
        defer { unlink(file) }
        try Pool.format(path: file, frames: bytes / UInt64(Geometry.frameSize))
        let pool = try Pool.open(path: file, cores: 1, durability: .cpuCache)
        defer { try? pool.close() }
        guard case .pmem(let image) = pool.allocator else { throw ValidationError("the pool did not open with cpu-cache durability") }
        image.allocator.settleAll()
        let served = PmemAllocator(image.allocator)
        let description = PoolDescription(path: file, uuid: Array(repeating: 7, count: 16), framesOffset: pool.header.layout.framesOffset,
                                          durability: .cpuCache)
        let configuration = ServerConfiguration(socketPath: "\(dir)/unused.sock", threads: 1, pinLoops: false)
        let server = try LLFreeServer(allocator: served, pool: description, configuration: configuration,
                                      logger: Logger(label: "request-path"), owners: image.owners)
        let peer = PeerCredentials(pid: getpid(), uid: getuid(), gid: getgid())
        if !json { print("request path: \(path), pool \(SizeParser.format(bytes)) on \(dir) (cpu-cache, owners), \(rounds) rounds per operation") }
        for o in op {
            let runner: Runner
            if path == "pipeline" {
                runner = try PipelineRunner(server: server, peer: peer)
            } else if path == "fast" {
                runner = try FastRunner(server: server, peer: peer)
            } else {
                runner = ProcessorRunner(server: server, peer: peer)
            }
            let batch = o == "get256" ? 256 : o == "get1" ? 1 : 0
            _ = try Self.measure(runner, batch: batch, rounds: max(1, rounds / 10))
            let clock = ContinuousClock()
            let start = clock.now
            let done = try Self.measure(runner, batch: batch, rounds: rounds)
            let elapsed = clock.now - start
            let (s, atto) = elapsed.components
            let ns = (Double(s) * 1e9 + Double(atto) / 1e9) / Double(done)
            let requests = batch == 0 ? 1 : 2
            if json {
                print("{\"bench\":\"request-path\",\"path\":\"\(path)\",\"op\":\"\(o)\",\"rounds\":\(done),\"requestsPerRound\":\(requests),\"nsPerRound\":\(String(format: "%.1f", ns)),\"nsPerRequest\":\(String(format: "%.1f", ns / Double(requests)))}")
            } else {
                print("\(o): \(String(format: "%.1f", ns)) ns per round (\(requests) request\(requests == 1 ? "" : "s")), \(String(format: "%.1f", ns / Double(requests))) ns per request")
            }
            runner.finish()
        }
        _ = server
    }

    /// The measured loop: `rounds` pings (batch 0) or get(batch)+put pairs. Not inlined, so that
    /// callgrind can collect just this.
    @inline(never)
    static func measure(_ runner: Runner, batch: Int, rounds: Int) throws -> Int {
        for _ in 0..<rounds {
            if batch == 0 {
                try runner.ping()
            } else {
                try runner.getPut(batch)
            }
        }
        return rounds
    }
}

/// One way of running requests through the server's code.
class Runner {
    /// The request bytes of a ping, a get of 1 and of 256 order-0 frames.
    let pingBytes = WireCodec.encode(RequestMessage(id: 1, .ping))
    let get1Bytes = WireCodec.encode(RequestMessage(id: 2, .get(order: 0, count: 1, kind: .fixed)))
    let get256Bytes = WireCodec.encode(RequestMessage(id: 3, .get(order: 0, count: 256, kind: .fixed)))
    /// A put request of up to 256 frames, rewritten from each get reply.
    var putBytes = [UInt8](repeating: 0, count: Wire.headerSize + 8 + 8 * 256)

    func ping() throws { fatalError("abstract") }
    func getPut(_ batch: Int) throws { fatalError("abstract") }
    func finish() {}

    /// Writes into `putBytes` a put (order 0) of the `count` frames of the get reply `reply`;
    /// returns its size.
    func makePut(from reply: UnsafeRawBufferPointer) throws -> Int {
        guard reply.count >= Wire.headerSize + 8, reply.load(fromByteOffset: 6, as: UInt16.self) == 0 else {
            throw ValidationError("the get was refused")
        }
        let count = Int(reply.loadUnaligned(fromByteOffset: Wire.headerSize, as: UInt32.self))
        let size = Wire.headerSize + 8 + 8 * count
        putBytes.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt32(size - 4).littleEndian, toByteOffset: 0, as: UInt32.self)
            out[4] = Wire.framing
            out[5] = Operation.put.rawValue
            out.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
            out.storeBytes(of: UInt64(4), toByteOffset: 8, as: UInt64.self)
            out.storeBytes(of: 0, toByteOffset: 16, as: UInt32.self)
            out.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 20, as: UInt32.self)
            (out.baseAddress! + 24).copyMemory(from: reply.baseAddress! + Wire.headerSize + 8, byteCount: 8 * count)
        }
        return size
    }
}

/// The server's connection handlers on an EmbeddedChannel.
final class PipelineRunner: Runner {
    let channel = EmbeddedChannel()
    var inbound: ByteBuffer

    init(server: LLFreeServer<PmemAllocator>, peer: PeerCredentials) throws {
        inbound = channel.allocator.buffer(capacity: 8192)
        super.init()
        try server.addConnectionHandlers(to: channel, core: 0, peer: peer)
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/unused")).wait()
    }

    private func roundTrip(_ bytes: UnsafeRawBufferPointer) throws -> ByteBuffer {
        inbound.clear()
        inbound.writeBytes(bytes)
        try channel.writeInbound(inbound)
        guard let reply = try channel.readOutbound(as: ByteBuffer.self) else { throw ValidationError("no reply") }
        return reply
    }

    override func ping() throws {
        _ = try pingBytes.withUnsafeBytes { try roundTrip($0) }
    }

    override func getPut(_ batch: Int) throws {
        let reply = try (batch == 1 ? get1Bytes : get256Bytes).withUnsafeBytes { try roundTrip($0) }
        let size = try reply.withUnsafeReadableBytes { try makePut(from: $0) }
        let put = try putBytes.withUnsafeBytes { try roundTrip(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        guard put.readableBytes >= Wire.headerSize, put.getInteger(at: put.readerIndex + 6, endianness: .little, as: UInt16.self) == 0 else {
            throw ValidationError("the put was refused")
        }
    }

    override func finish() { _ = try? channel.finish() }
}

/// The codec and the request processor, as the connection handler calls them, without NIO.
final class ProcessorRunner: Runner {
    let processor: RequestProcessor<PmemAllocator>
    var session: ClientSession
    var out = [UInt8](repeating: 0, count: Wire.headerSize + 8 + 8 * Wire.maxBatch)

    init(server: LLFreeServer<PmemAllocator>, peer: PeerCredentials) {
        processor = RequestProcessor(allocator: server.allocator, core: 0, pool: server.pool, counters: server.counters, owners: server.owners)
        session = ClientSession(peer: peer)
        super.init()
    }

    private func serve(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        guard let size = try WireCodec.messageSize(bytes) else { throw ValidationError("incomplete request") }
        let message = try WireCodec.decodeRequest(UnsafeRawBufferPointer(rebasing: bytes[0..<size]))
        let reply = processor.process(message, session: &session)
        let replySize = WireCodec.encodedSize(reply)
        return out.withUnsafeMutableBytes { WireCodec.encode(reply, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<replySize])) }
    }

    override func ping() throws {
        _ = try pingBytes.withUnsafeBytes { try serve($0) }
    }

    override func getPut(_ batch: Int) throws {
        let n = try (batch == 1 ? get1Bytes : get256Bytes).withUnsafeBytes { try serve($0) }
        let size = try out.withUnsafeBytes { try makePut(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        _ = try putBytes.withUnsafeBytes { try serve(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        guard out[6] == 0 && out[7] == 0 else { throw ValidationError("the put was refused") }
    }
}

/// The processor's fast path, as the connection handler and a ring's server call it: the
/// request's bytes in, the reply's bytes appended to a reused buffer.
final class FastRunner: Runner {
    let processor: RequestProcessor<PmemAllocator>
    var session: ClientSession
    var out = ByteBufferAllocator().buffer(capacity: Wire.headerSize + 8 + 8 * Wire.maxBatch)
    var scratch = FrameScratch()

    init(server: LLFreeServer<PmemAllocator>, peer: PeerCredentials) throws {
        processor = RequestProcessor(allocator: server.allocator, core: 0, pool: server.pool, counters: server.counters, owners: server.owners)
        session = ClientSession(peer: peer)
        super.init()
        // The fast path serves attached connections: the implicit owner is attached first, as a
        // connection's first get does on the general path.
        let first = processor.process(RequestMessage(id: 0, .get(order: 0, count: 1, kind: .fixed)), session: &session)
        guard case .get(let got) = first.reply else { throw ValidationError("the first get was refused: \(first.reply)") }
        _ = processor.process(RequestMessage(id: 0, .put(order: 0, frames: got.frames)), session: &session)
    }

    private func serve(_ bytes: UnsafeRawBufferPointer) throws {
        out.clear()
        guard processor.answerFast(bytes, session: &session, into: &out, scratch: &scratch) else {
            throw ValidationError("the fast path did not answer")
        }
    }

    override func ping() throws {
        try pingBytes.withUnsafeBytes { try serve($0) }
    }

    override func getPut(_ batch: Int) throws {
        try (batch == 1 ? get1Bytes : get256Bytes).withUnsafeBytes { try serve($0) }
        let size = try out.withUnsafeReadableBytes { try makePut(from: $0) }
        try putBytes.withUnsafeBytes { try serve(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        guard out.getInteger(at: out.readerIndex + 6, endianness: .little, as: UInt16.self) == 0 else {
            throw ValidationError("the put was refused")
        }
    }

    override func finish() { scratch.release() }
}

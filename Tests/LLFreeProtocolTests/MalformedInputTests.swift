// Every malformed input is refused with the error code docs/protocol.md gives for it, and
// carries the request id when the header was readable.

import Testing
@testable import LLFreeProtocol

@Suite struct MalformedInputTests {
    /// A raw message: header fields and body as given, length computed unless overridden.
    static func raw(version: UInt8 = 1, op: UInt8, status: UInt16 = 0, id: UInt64 = 99, body: [UInt8], length: UInt32? = nil) -> [UInt8] {
        var bytes = [UInt8]()
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        le(length ?? UInt32(12 + body.count))
        bytes.append(version)
        bytes.append(op)
        le(status)
        le(id)
        return bytes + body
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    func expectRequestError(_ bytes: [UInt8], _ code: ErrorCode, id: UInt64? = 99, fatal: Bool = false,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let decoded = try WireCodec.decodeRequest(bytes)
            Issue.record("decoded \(decoded) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.id == id, sourceLocation: sourceLocation)
            #expect(error.fatal == fatal, sourceLocation: sourceLocation)
        }
    }

    @Test func incompleteMessagesWaitForMoreBytes() throws {
        let full = WireCodec.encode(RequestMessage(id: 1, .put(order: 0, frames: [1, 2])))
        for cut in 0..<full.count {
            #expect(try WireCodec.messageSize(Array(full[0..<cut])) == nil)
        }
        #expect(try WireCodec.messageSize(full + [1, 2, 3]) == full.count)
    }

    @Test func lengthSmallerThanAHeaderIsFatal() {
        #expect(throws: ProtocolError(.tooShort, "length field 11 is smaller than the 12 header bytes that must follow it", fatal: true)) {
            try WireCodec.messageSize(Self.le(UInt32(11)))
        }
        expectRequestError(Self.raw(op: 6, body: [], length: 0) , .tooShort, id: nil, fatal: true)
    }

    @Test func oversizedLengthIsFatalBeforeTheBodyArrives() throws {
        do {
            _ = try WireCodec.messageSize(Self.le(UInt32(Wire.maxLength + 1)))
            Issue.record("accepted an oversized length")
        } catch {
            #expect(error.code == .tooLarge)
            #expect(error.fatal)
        }
        #expect(try WireCodec.messageSize(Self.le(UInt32(Wire.maxLength))) == nil)
        #expect(throws: ProtocolError.self) { try WireCodec.messageSize(Self.le(UInt32.max)) }
    }

    @Test func lengthThatDisagreesWithTheBytesGiven() {
        var bytes = Self.raw(op: 6, body: [])
        bytes.append(0)
        expectRequestError(bytes, .malformed, id: nil, fatal: true)
        expectRequestError([1, 0], .tooShort, id: nil, fatal: true)
    }

    @Test func unsupportedVersion() {
        expectRequestError(Self.raw(version: 2, op: 6, body: []), .unsupportedVersion)
        expectRequestError(Self.raw(version: 0, op: 6, body: []), .unsupportedVersion)
    }

    @Test(arguments: [UInt8(0), 0x12, 0x42, 0x7F, 0x80, 0x86, 0xFF])
    func unknownOperation(_ op: UInt8) {
        expectRequestError(Self.raw(op: op, body: []), .unknownOperation)
    }

    @Test func requestWithAStatus() {
        expectRequestError(Self.raw(op: 6, status: 1, body: []), .malformed)
    }

    @Test func bodiesOfTheWrongSize() {
        expectRequestError(Self.raw(op: 1, body: [1, 0, 1]), .malformed)
        expectRequestError(Self.raw(op: 2, body: [0, 0, 0, 0, 1, 0, 0]), .malformed)
        expectRequestError(Self.raw(op: 2, body: [0, 0, 0, 0, 1, 0, 0, 0, 0]), .malformed)
        expectRequestError(Self.raw(op: 3, body: [0, 0, 0]), .malformed)
        expectRequestError(Self.raw(op: 4, body: Array(repeating: 0, count: 15)), .malformed)
        expectRequestError(Self.raw(op: 5, body: [0]), .malformed)
        expectRequestError(Self.raw(op: 6, body: [0]), .malformed)
    }

    @Test func putWhoseCountDisagreesWithItsFrames() {
        // Count 3, two frames.
        expectRequestError(Self.raw(op: 3, body: [0, 0, 0, 0] + Self.le(UInt32(3)) + Self.le(UInt64(1)) + Self.le(UInt64(2))), .malformed)
        // Count 1, two frames.
        expectRequestError(Self.raw(op: 3, body: [0, 0, 0, 0] + Self.le(UInt32(1)) + Self.le(UInt64(1)) + Self.le(UInt64(2))), .malformed)
        // Count 1, half a frame.
        expectRequestError(Self.raw(op: 3, body: [0, 0, 0, 0] + Self.le(UInt32(1)) + [1, 2, 3, 4]), .malformed)
    }

    @Test func nonZeroReservedFields() {
        expectRequestError(Self.raw(op: 1, body: [1, 0, 1, 0, 0, 0, 1, 0]), .malformed)
        expectRequestError(Self.raw(op: 2, body: [0, 0, 1, 0, 1, 0, 0, 0]), .malformed)
        expectRequestError(Self.raw(op: 3, body: [0, 1, 0, 0] + Self.le(UInt32(1)) + Self.le(UInt64(0))), .malformed)
        expectRequestError(Self.raw(op: 4, body: [0, 0, 0, 0, 0, 0, 0, 9] + Self.le(UInt64(0))), .malformed)
    }

    @Test func emptyOrBackwardsHelloRange() {
        expectRequestError(Self.raw(op: 1, body: [3, 0, 2, 0, 0, 0, 0, 0]), .malformed)
        expectRequestError(Self.raw(op: 1, body: [0, 0, 2, 0, 0, 0, 0, 0]), .malformed)
    }

    @Test(arguments: [UInt8(64), 100, 255])
    func orderBeyondTheWireMaximum(_ order: UInt8) {
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .get(order: order, count: 1, kind: .fixed))), .invalidOrder)
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .put(order: order, frames: [0]))), .invalidOrder)
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .isFree(order: order, frame: 0))), .invalidOrder)
    }

    @Test(arguments: [UInt32(0), UInt32(Wire.maxBatch + 1), UInt32.max])
    func countOutOfBounds(_ count: UInt32) {
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .get(order: 0, count: count, kind: .fixed))), .invalidCount)
        expectRequestError(Self.raw(op: 3, body: [0, 0, 0, 0] + Self.le(count)), .invalidCount)
    }

    @Test func putOfMoreThanTheBatchLimitIsRefused() {
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .put(order: 0, frames: Array(repeating: 0, count: Wire.maxBatch + 1)))), .invalidCount)
    }

    @Test(arguments: [UInt8(3), 0x80, 0xFF])
    func unknownKind(_ kind: UInt8) {
        expectRequestError(Self.raw(op: 2, body: [0, kind, 0, 0, 1, 0, 0, 0]), .invalidKind)
    }

    func expectReplyError(_ bytes: [UInt8], _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let decoded = try WireCodec.decodeReply(bytes)
            Issue.record("decoded \(decoded) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func malformedReplies() {
        // A reply without the reply bit.
        expectReplyError(Self.raw(op: 6, body: []), .malformed)
        // An unknown status.
        expectReplyError(Self.raw(op: 0x86, status: 999, body: []), .malformed)
        // A framing-error op with success status.
        expectReplyError(Self.raw(op: 0xFF, body: []), .malformed)
        // Unknown reply op.
        expectReplyError(Self.raw(op: 0x99, body: []), .unknownOperation)
        // Get reply whose count disagrees with its frames.
        expectReplyError(Self.raw(op: 0x82, body: Self.le(UInt32(2)) + [0, 0, 0, 0] + Self.le(UInt64(5))), .malformed)
        // Get reply with an unknown shortfall code.
        expectReplyError(Self.raw(op: 0x82, body: Self.le(UInt32(0)) + [0xFF, 0, 0, 0]), .malformed)
        // Put reply whose freed count disagrees with its results.
        expectReplyError(Self.raw(op: 0x83, body: Self.le(UInt32(1)) + Self.le(UInt32(1)) + [12, 0]), .malformed)
        // Is-free reply of 2.
        expectReplyError(Self.raw(op: 0x84, body: [2, 0, 0, 0, 0, 0, 0, 0]), .malformed)
        // Stats reply cut short.
        expectReplyError(Self.raw(op: 0x85, body: Array(repeating: 0, count: 100)), .malformed)
        // Hello reply whose path length runs past the body.
        var hello = WireCodec.encode(ReplyMessage(id: 99, .hello(RoundTripTests.info)))
        hello.removeLast()
        hello[0] -= 1
        expectReplyError(hello, .malformed)
        // Error message beyond the limit.
        expectReplyError(Self.raw(op: 0x82, status: 11, body: Array(repeating: 0x41, count: Wire.maxMessage + 1)), .malformed)
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let size = Int.random(in: 0...64, using: &generator)
            var bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 8 && Bool.random(using: &generator) {
                // Make the header plausible so the body checks run too.
                bytes.replaceSubrange(0..<4, with: Self.le(UInt32(bytes.count - 4)))
                bytes[4] = 1
                bytes[5] = UInt8.random(in: 0...7, using: &generator) | (Bool.random(using: &generator) ? 0x80 : 0)
            }
            if let request = try? WireCodec.decodeRequest(bytes) {
                // Whatever decodes must re-encode to the same bytes: nothing was silently ignored.
                #expect(WireCodec.encode(request) == bytes)
            }
            if let reply = try? WireCodec.decodeReply(bytes), case .error = reply.reply {} else if let reply = try? WireCodec.decodeReply(bytes) {
                #expect(WireCodec.encode(reply) == bytes)
            }
        }
    }
}

// Splits a connection's byte stream into requests with the protocol codec. A bad length field
// makes the stream unsplittable: the decoder reports it once and discards everything after.

import LLFreeProtocol
import NIOCore

/// The NIO decoder of requests.
struct RequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = DecodedRequest

    /// Set after a fatal framing error; everything that follows is dropped.
    private var broken = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if broken {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let decoded: (DecodedRequest, consumed: Int)? = buffer.withUnsafeReadableBytes { raw -> (DecodedRequest, consumed: Int)? in
            let size: Int
            do throws(ProtocolError) {
                guard let complete = try WireCodec.messageSize(raw) else { return nil }
                size = complete
            } catch {
                return (.invalid(error), raw.count)
            }
            do throws(ProtocolError) {
                return (.request(try WireCodec.decodeRequest(UnsafeRawBufferPointer(rebasing: raw[0..<size]))), size)
            } catch {
                return (.invalid(error), size)
            }
        }
        guard let (message, consumed) = decoded else { return .needMoreData }
        if case .invalid(let error) = message, error.fatal { broken = true }
        buffer.moveReaderIndex(forwardBy: consumed)
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Complete messages that arrived before the peer closed are still answered: a peer that
        // shuts only its write side (half-closure is allowed) gets every reply, written before the
        // connection handler closes; a peer that closed entirely cannot read them, but what they
        // asked for is done, as for any request read. A partial message (the peer stopped
        // mid-message) is dropped: it never was a request.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}

// What the decoder hands the connection handler: a valid request, or the reason some bytes
// were not one.

/// One message off the wire.
enum DecodedRequest {
    case request(RequestMessage)
    case invalid(ProtocolError)
}

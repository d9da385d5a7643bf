// Splits the daemon's byte stream into replies with the protocol codec.

import LLFreeProtocol
import NIOCore

/// The NIO decoder of replies; a reply that does not decode is a protocol violation that ends
/// the connection.
struct ReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = ReplyMessage

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let decoded = try buffer.withUnsafeReadableBytes { raw throws -> (ReplyMessage, Int)? in
            do throws(ProtocolError) {
                guard let size = try WireCodec.messageSize(raw) else { return nil }
                return (try WireCodec.decodeReply(UnsafeRawBufferPointer(rebasing: raw[0..<size])), size)
            } catch {
                throw ClientError.protocolViolation("\(error)")
            }
        }
        guard let (reply, size) = decoded else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: size)
        context.fireChannelRead(wrapInboundOut(reply))
        return .continue
    }
}

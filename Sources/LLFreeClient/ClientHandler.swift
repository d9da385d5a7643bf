// The client end of a connection: encodes requests, remembers the promise of each by id, and
// fulfils it when the reply with that id arrives. When the connection ends, every request still
// waiting fails with connectionLost (it may have been served).

import LLFreeProtocol
import NIOCore

/// Matches replies to requests by id.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ReplyMessage
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = ByteBuffer

    private var waiting = [UInt64: EventLoopPromise<Reply>]()
    /// Replies that carry no request's id (framing or access errors, id 0) fail everything.
    private var failure: ClientError? = nil

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        if let failure {
            pending.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        waiting[pending.message.id] = pending.promise
        let size = WireCodec.encodedSize(pending.message)
        var buffer = context.channel.allocator.buffer(capacity: size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            WireCodec.encode(pending.message, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        if let promise = waiting.removeValue(forKey: message.id) {
            promise.succeed(message.reply)
        } else if case .error(_, let error) = message.reply {
            // An error for no request of ours (id 0: access refused, bad framing): the daemon will
            // close the connection; everything waiting fails with the daemon's reason.
            failAll(.refused(error))
        } else {
            failAll(.protocolViolation("reply for unknown request id \(message.id)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(failure ?? .connectionLost("the daemon closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error as? ClientError ?? .connectionLost("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: ClientError) {
        failure = failure ?? error
        let promises = waiting
        waiting.removeAll()
        for (_, promise) in promises { promise.fail(error) }
    }
}

// A request on its way to the daemon together with the promise its reply will fulfil.

/// What the client writes into its channel.
struct PendingRequest: Sendable {
    var message: RequestMessage
    var promise: EventLoopPromise<Reply>
}

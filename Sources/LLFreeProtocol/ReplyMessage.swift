// A reply together with the id of the request it answers.

/// A reply and the id of its request.
public struct ReplyMessage: Sendable, Equatable {
    public var id: UInt64
    public var reply: Reply

    public init(id: UInt64, _ reply: Reply) {
        self.id = id
        self.reply = reply
    }
}

// What the connection handler splits off its byte stream: a valid request, or the reason some
// bytes were not one. (A bad length field makes the stream unsplittable: the handler reports it
// once and discards everything after.)

import LLFreeProtocol

/// One message off the wire.
enum DecodedRequest {
    case request(RequestMessage)
    case invalid(ProtocolError)
}

// What the decoder hands the connection handler: a valid request, or the reason some bytes
// were not one.

import LLFreeProtocol

/// One message off the wire.
enum DecodedRequest {
    case request(RequestMessage)
    case invalid(ProtocolError)
}

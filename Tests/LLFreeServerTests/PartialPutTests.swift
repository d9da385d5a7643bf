// A put split into several requests reports what happened to every run when some requests fail:
// runs freed by the answered requests are not hidden behind the first failure.

@testable import LLFreeClient
import LLFreeProtocol
import Testing

struct PartialPutTests {
    /// Two requests: runs 0..<3 and 3..<5.
    let requests: [Request] = [.put(order: 0, frames: [10, 11, 12]), .put(order: 0, frames: [13, 14])]

    @Test func aLostSecondRequestReportsTheFirstRequestsRuns() {
        let replies: [Result<Reply, ClientError>] = [
            .success(.put(PutResult(results: [nil, .notAllocated, nil]))), .failure(.connectionLost("reset")),
        ]
        #expect(throws: ClientError.partialPut(runs: [.freed, .notFreed(.notAllocated), .freed, .unknown, .unknown],
                                               reason: "\(ClientError.connectionLost("reset"))")) {
            try LLFreeClient.joinPuts(replies, requests: requests)
        }
    }

    @Test func aRefusedRequestLeavesItsRunsAndKeepsTheOthers() {
        let refusal = ReplyError(.shuttingDown, "stopping")
        let replies: [Result<Reply, ClientError>] = [
            .success(.error(op: 0x83, refusal)), .success(.put(PutResult(results: [nil, nil]))),
        ]
        do {
            _ = try LLFreeClient.joinPuts(replies, requests: requests)
            Issue.record("a partly refused put was reported as done")
        } catch {
            guard case .partialPut(let runs, _) = error else { Issue.record("\(error)"); return }
            #expect(runs == [.notFreed(.shuttingDown), .notFreed(.shuttingDown), .notFreed(.shuttingDown), .freed, .freed])
        }
    }

    @Test func whenNoRequestWasAnsweredTheFirstErrorIsThrown() {
        let replies: [Result<Reply, ClientError>] = [.failure(.connectionLost("a")), .failure(.connectionLost("b"))]
        #expect(throws: ClientError.connectionLost("a")) { try LLFreeClient.joinPuts(replies, requests: requests) }
        let refused: [Result<Reply, ClientError>] = [.success(.error(op: 0x83, ReplyError(.invalidOrder, "x")))]
        #expect(throws: ClientError.refused(ReplyError(.invalidOrder, "x"))) {
            try LLFreeClient.joinPuts(refused, requests: [requests[0]])
        }
    }

    @Test func allAnsweredRequestsJoinInOrder() throws {
        let replies: [Result<Reply, ClientError>] = [
            .success(.put(PutResult(results: [nil, nil, .notAllocated]))), .success(.put(PutResult(results: [nil, .misaligned]))),
        ]
        #expect(try LLFreeClient.joinPuts(replies, requests: requests).results == [nil, nil, .notAllocated, nil, .misaligned])
    }

    @Test func aReplyWithTheWrongNumberOfResultsIsAProtocolViolation() {
        let replies: [Result<Reply, ClientError>] = [.success(.put(PutResult(results: [nil]))), .success(.put(PutResult(results: [nil, nil])))]
        do {
            _ = try LLFreeClient.joinPuts(replies, requests: requests)
            Issue.record("a miscounted reply was accepted")
        } catch {
            guard case .partialPut(let runs, let reason) = error else { Issue.record("\(error)"); return }
            #expect(runs == [.unknown, .unknown, .unknown, .freed, .freed] && reason.contains("1 results"))
        }
    }
}

// Tests of the log format: journal lines carry a priority prefix and no timestamp of our own,
// text lines carry one; auto picks journal only when JOURNAL_STREAM names stderr.

import LLFreeDaemon
import Logging
import NIOConcurrencyHelpers
import XCTest

final class DaemonLogHandlerTests: XCTestCase {
    func lines(_ format: LogFormat, _ body: (Logger) -> Void) -> [String] {
        let captured = NIOLockedValueBox<[String]>([])
        let handler = DaemonLogHandler(label: "llfreed", level: .info, format: format) { line in captured.withLockedValue { $0.append(line) } }
        body(Logger(label: "llfreed", factory: { _ in handler }))
        return captured.withLockedValue { $0 }
    }

    func testJournalLinesHavePriorityAndNoTimestamp() {
        let out = lines(.journal) { logger in
            logger.warning("refused connection", metadata: ["peer": "pid 1 uid 2", "why": "not admitted"])
            logger.info("two\nlines")
            logger.debug("below the level")
            logger.error("e")
        }
        XCTAssertEqual(out, ["<4>refused connection peer=pid 1 uid 2 why=not admitted\n", "<6>two\\nlines\n", "<3>e\n"])
    }

    func testTextLinesHaveTimestampLevelAndLabel() {
        let out = lines(.text) { $0.notice("ready", metadata: ["socket": "/run/x.sock"]) }
        XCTAssertEqual(out.count, 1)
        let line = out[0]
        XCTAssertTrue(line.hasSuffix(" notice llfreed: ready socket=/run/x.sock\n"), line)
        XCTAssertNotNil(line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "#, options: .regularExpression), line)
    }

    func testAutoIsJournalOnlyWhenJournalStreamNamesStderr() {
        let stderr = (device: UInt64(64), inode: UInt64(1234))
        XCTAssertEqual(LogFormat.auto.resolved(journalStream: "64:1234", standardError: stderr), .journal)
        XCTAssertEqual(LogFormat.auto.resolved(journalStream: "64:999", standardError: stderr), .text, "stderr was redirected elsewhere")
        XCTAssertEqual(LogFormat.auto.resolved(journalStream: nil, standardError: stderr), .text)
        XCTAssertEqual(LogFormat.auto.resolved(journalStream: "garbage", standardError: stderr), .text)
        XCTAssertEqual(LogFormat.text.resolved(journalStream: "64:1234", standardError: stderr), .text)
        XCTAssertEqual(LogFormat.journal.resolved(journalStream: nil, standardError: nil), .journal)
    }
}

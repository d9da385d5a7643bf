// sd_notify over a real AF_UNIX datagram socket: what the notifier sends is what systemd reads.

import Foundation
import LLFreeServer
import LLFreeDaemon
import XCTest

final class SystemdNotifierTests: XCTestCase {
    func testReadyStatusStoppingAndWatchdogArriveAsDatagrams() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8)).sock").path
        let listener = try NotifyListener(address: path)
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        try notifier.ready(status: "serving 5 free frames\nof 8")
        XCTAssertEqual(listener.receive(), "READY=1\nSTATUS=serving 5 free frames of 8\nMAINPID=\(getpid())")
        try notifier.status("still serving")
        XCTAssertEqual(listener.receive(), "STATUS=still serving")
        try notifier.watchdog()
        XCTAssertEqual(listener.receive(), "WATCHDOG=1")
        try notifier.stopping(status: "bye")
        XCTAssertEqual(listener.receive(), "STOPPING=1\nSTATUS=bye")
    }

    func testAbstractNamespaceSocket() throws {
        let name = "@llfreed-notify-test-\(UUID().uuidString.prefix(8))"
        let listener = try NotifyListener(address: name)
        try SystemdNotifier(socket: name).watchdog()
        XCTAssertEqual(listener.receive(), "WATCHDOG=1")
    }

    func testNoSocketNoNotifierAndFailuresAreReported() {
        XCTAssertNil(SystemdNotifier(environment: [:]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]))
        XCTAssertThrowsError(try SystemdNotifier(socket: "/nonexistent/llfreed/notify.sock").watchdog()) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/llfreed/notify.sock"), "\(error)")
        }
        XCTAssertThrowsError(try SystemdNotifier(socket: "relative.sock").watchdog())
    }

    func testWatchdogIntervalIsHalfOfWatchdogUSec() {
        XCTAssertEqual(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"], pid: 5), .seconds(15))
        XCTAssertEqual(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "5"], pid: 5), .milliseconds(200))
        XCTAssertNil(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "6"], pid: 5), "meant for another process")
        XCTAssertNil(SystemdNotifier.watchdogInterval(environment: [:], pid: 5))
        XCTAssertNil(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"], pid: 5))
        XCTAssertNil(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "soon"], pid: 5))
    }
}

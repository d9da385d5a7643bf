// The one duration format of log lines and llfree-ctl: three significant digits in the largest
// unit that keeps the value at 1 or more, and unit changes at the rounding boundaries.

import Testing
import LLFreeProtocol

@Suite struct ReadableDurationTests {
    static let cases: [(Duration, String)] = [
        (.zero, "0 ns"),
        (.nanoseconds(81), "81 ns"),
        (.nanoseconds(999), "999 ns"),
        (.nanoseconds(1000), "1.00 µs"),
        (.nanoseconds(12_049), "12.0 µs"),
        (.nanoseconds(999_700), "1.00 ms"),
        (.nanoseconds(1_587_000), "1.59 ms"),
        (.nanoseconds(1_755_290), "1.76 ms"),
        (.nanoseconds(5_089_356), "5.09 ms"),
        (.nanoseconds(11_452_000), "11.5 ms"),
        (.nanoseconds(99_960_000), "100 ms"),
        (.nanoseconds(999_600_000), "1.00 s"),
        (.milliseconds(2500), "2.50 s"),
        (.seconds(4000), "4000 s"),
        (.nanoseconds(-1_755_290), "-1.76 ms"),
    ]

    @Test(arguments: cases)
    func format(_ duration: Duration, _ expected: String) {
        #expect(ReadableDuration(duration).description == expected)
    }

    /// What the daemon logged before: `recovery time=8.1e-08 seconds`, `took=0.005089356 seconds`.
    @Test func formerLogValues() {
        #expect("\(ReadableDuration(.seconds(8.1e-08)))" == "81 ns")
        #expect("\(ReadableDuration(.seconds(0.005089356)))" == "5.09 ms")
    }
}

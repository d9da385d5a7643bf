// Tests of the size syntax the tools accept ("512M", "1G", "4T").

import LLFreePool
import Testing

@Suite struct SizeParserTests {
    static let valid: [(String, UInt64)] = [
        ("4096", 4096), ("64K", 64 << 10), ("512M", 512 << 20), ("1G", 1 << 30), ("4T", 4 << 40),
        ("1GiB", 1 << 30), ("1gb", 1 << 30), ("2g", 2 << 30), (" 8M ", 8 << 20), ("0", 0),
    ]

    @Test(arguments: valid)
    func parses(text: String, bytes: UInt64) throws {
        #expect(try SizeParser.parse(text) == bytes)
    }

    @Test(arguments: ["", "G", "1.5G", "-1G", "1X", "16E", "99999999999999999999", "1iB", "1 G"])
    func refuses(text: String) {
        #expect(throws: SizeParser.Failure.self) { try SizeParser.parse(text) }
    }

    @Test func formatsWithTheLargestExactUnit() {
        #expect(SizeParser.format(1 << 30) == "1G")
        #expect(SizeParser.format(1536 << 20) == "1536M")
        #expect(SizeParser.format(4097) == "4097")
        #expect(SizeParser.format(4 << 40) == "4T")
    }
}

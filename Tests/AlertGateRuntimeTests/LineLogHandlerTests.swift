import AlertGateCore
import Foundation
import Logging
import Testing

@testable import AlertGateRuntime

/// Log lines: a peer's text (a CN, a message, an address) never starts a line of its own.
@Suite struct LineLogHandlerTests {
    static let forged = "x\n2026-12-07T00:00:00.000+0000 error FORGED LINE"

    /// Logs one event in `format` to a new file and returns the file's lines.
    static func lines(_ format: LineLogHandler.Format, journal: Bool = false, _ log: (Logger) -> Void) throws -> [String] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var environment: [String: String] = [:]
        if journal {
            // As systemd sets it for a unit whose standard error is the journal.
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            var info = stat()
            stat(path, &info)
            environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        let output = try LogOutput.file(path, environment: environment)
        let logger = Logger(label: "test") { label in LineLogHandler(label: label, format: format, output: output) }
        log(logger)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test func controlCharactersFromPeersAreEscapedInTextLines() throws {
        let lines = try Self.lines(.text) { logger in
            logger.error("refused the client certificate CN=\(Self.forged) from 127.0.0.1:5000", metadata: ["peer": "\(Self.forged)\r\u{1B}[2J", "path": "/a\u{2028}b\u{85}"])
        }
        #expect(lines.count == 1, "\(lines)")
        let line = try #require(lines.first)
        #expect(line.contains(#"CN=x\n2026-12-07T00:00:00.000+0000 error FORGED LINE from"#))
        #expect(line.contains(#"\r\u{1B}[2J"#))
        #expect(line.contains(#"/a\u{2028}b\u{85}"#))
        #expect(!line.unicodeScalars.contains { LogEscaping.isControl($0) })
    }

    @Test func jsonLinesStayOneLineToo() throws {
        let lines = try Self.lines(.json) { logger in
            logger.error("CN=\(Self.forged)", metadata: ["peer": "\(Self.forged)"])
        }
        #expect(lines.count == 1, "\(lines)")
        let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String]
        #expect(object?["message"] == "CN=\(Self.forged)")
        #expect(object?["peer"] == Self.forged)
    }

    @Test func escapingLeavesOrdinaryTextAlone() {
        #expect(LogEscaping.escaped("listener hooks: CN=sensör-1 from [fd00::1]:514") == "listener hooks: CN=sensör-1 from [fd00::1]:514")
        #expect(LogEscaping.escaped("a\tb\u{0}c\u{7F}") == #"a\tb\u{0}c\u{7F}"#)
    }

    @Test func theJournalGetsEachLinesPriorityAndKeepsItsOwnTime() throws {
        let lines = try Self.lines(.text, journal: true) { logger in
            logger.error("reload refused")
            logger.warning("certificate expires soon", metadata: ["certificate": "sensor-1"])
            logger.info("alertgate running")
        }
        #expect(lines == ["<3>error reload refused", "<4>warning certificate expires soon certificate=sensor-1", "<6>info alertgate running"])
        // Elsewhere (a terminal, a file): the time first, no priority prefix.
        let plain = try Self.lines(.text) { $0.warning("certificate expires soon") }
        #expect(plain.count == 1 && plain[0].hasPrefix("20") && plain[0].hasSuffix(" warning certificate expires soon"), "\(plain)")
        // Another stream's device and inode is not this output's.
        #expect(!LogOutput.isJournal(2, stream: "1:1"))
    }
}

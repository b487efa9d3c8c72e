/// What opening a queue found and did about it: damaged ranges of its segment files, and
/// what it ignored or corrected. The runtime logs each and counts the damaged records
/// (`alertgate_spool_damaged_records_total`); the spool itself has no logger.
public struct SpoolRecoveryReport: Sendable, Hashable {
    /// Bytes of a segment file that held no valid record; their records are lost.
    public struct Damage: Sendable, Hashable, CustomStringConvertible {
        /// The segment file, as it was named when the damage was found.
        public var file: String
        /// The byte range that was skipped.
        public var bytes: Range<Int>
        /// How many records the range held, when the sequence numbers around it tell
        /// (nil: not known, at least one).
        public var recordsLost: Int?
        /// The end of the file cut off in the middle of a record: the shape of a write a
        /// crash interrupted (such a record was never acknowledged to its sender).
        public var torn: Bool
        /// Where the damaged file was copied before it was rewritten (nil if the copy failed).
        public var copy: String?

        public var description: String {
            let lost = recordsLost.map { "\($0) record\($0 == 1 ? "" : "s") lost" } ?? "at least 1 record lost"
            let kind = torn ? "an unfinished write at the end" : "bytes that fail their checksum"
            let saved = copy.map { "; the damaged file is kept as \($0)" } ?? ""
            return "\(file): bytes \(bytes.lowerBound)..<\(bytes.upperBound) are \(kind), skipped (\(lost)); the valid records after them are kept\(saved)"
        }
    }

    public var damages: [Damage] = []
    /// Files ignored, a cursor moved: one sentence each, naming the file.
    public var warnings: [String] = []

    public init() {}

    /// Records lost to damage, counting one for a range whose count is not known.
    public var damagedRecords: Int {
        damages.reduce(0) { $0 + ($1.recordsLost ?? 1) }
    }

    public var isEmpty: Bool { damages.isEmpty && warnings.isEmpty }
}

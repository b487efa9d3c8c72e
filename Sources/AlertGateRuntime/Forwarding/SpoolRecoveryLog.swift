import AlertGateSpool
import Logging
import Metrics

/// Says what opening the spool found (docs/reference.md §11): each damaged range of a segment file with
/// the records it cost, each file or folder ignored and each cursor corrected, and counts
/// the records lost in `alertgate_spool_damaged_records_total` (there from the start, at 0).
enum SpoolRecoveryLog {
    static let damagedRecords = "alertgate_spool_damaged_records_total"

    static func report(_ spool: Spool, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        let counter = Counter(label: damagedRecords, factory: metrics)
        counter.increment(by: 0)
        for folder in spool.ignoredFolders {
            logger.warning("spool: \(spool.directory.appendingPathComponent(folder).path): not a folder of the spool; ignored")
        }
        for (key, report) in spool.recoveryReports() {
            var logger = logger
            logger[metadataKey: "partner"] = "\(key.partner)"
            logger[metadataKey: "appliance"] = "\(key.appliance)"
            for damage in report.damages {
                logger.log(level: damage.torn ? .warning : .error, "spool damaged: \(damage)")
            }
            for warning in report.warnings {
                logger.warning("spool: \(warning)")
            }
            counter.increment(by: report.damagedRecords)
        }
    }
}

import AlertGateCore
import AlertGatePKI
import Foundation

/// `cert check`'s report, as text for people and as JSON for scripts (docs/reference.md §5).
enum CertificateReportRenderer {
    static func text(_ report: CertificateReport) -> String {
        var lines: [String] = []
        func field(_ name: String, _ value: String) {
            lines.append(name.padding(toLength: 14, withPad: " ", startingAt: 0) + value)
        }
        field("Certificate:", report.files.certificate)
        if let certificate = report.certificate {
            lines.append("Subject:")
            for attribute in certificate.subject.displayAttributes {
                lines.append("  " + attribute.key.padding(toLength: 14, withPad: " ", startingAt: 0) + attribute.value)
            }
            field("Issuer:", certificate.issuer.description)
            field("Valid from:", format(certificate.notBefore))
            field("Valid until:", format(certificate.notAfter))
            field("Key:", certificate.publicKey.description)
            field("Signature:", certificate.signatureAlgorithm)
            field("SAN:", certificate.subjectAlternativeNames.isEmpty ? "(none)" : certificate.subjectAlternativeNames.joined(separator: ", "))
            field("CRL:", certificate.crlDistributionPoints.isEmpty ? "(none)" : certificate.crlDistributionPoints.joined(separator: ", "))
            field("Serial:", certificate.serialNumber)
            field("SHA-256:", certificate.sha256Fingerprint)
        }
        if !report.chain.isEmpty {
            lines.append("Chain:")
            for member in report.chain {
                lines.append("  \(member.subject.description) (until \(format(member.notAfter)))")
            }
        }
        lines.append("")
        lines.append("Checks:")
        for check in report.checks {
            let code = check.code.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
            switch check.outcome {
            case .passed:
                lines.append("  PASS  \(code)\(check.code.title)")
            case .failed(let problem):
                lines.append("  FAIL  \(code)\(problem.message)" + (check.detail.map { " [\($0)]" } ?? ""))
            case .skipped(let reason):
                lines.append("  SKIP  \(code)\(reason)")
            }
        }
        lines.append("")
        let failures = report.problems.count
        lines.append(report.isValid ? "Result: valid" : "Result: invalid (\(failures) check\(failures == 1 ? "" : "s") failed)")
        return lines.joined(separator: "\n")
    }

    static func json(_ report: CertificateReport) -> String {
        let certificate = report.certificate
        let checks: [JSONValue] = report.checks.map { check in
            var members: [(String, JSONValue)] = [("code", .string(check.code.rawValue))]
            switch check.outcome {
            case .passed:
                members += [("ok", .bool(true)), ("message", .string(check.code.title))]
            case .failed(let problem):
                members += [("ok", .bool(false)), ("message", .string(problem.message))]
            case .skipped(let reason):
                members += [("ok", .bool(true)), ("skipped", .bool(true)), ("message", .string(reason))]
            }
            if let detail = check.detail { members.append(("detail", .string(detail))) }
            return .object(members)
        }
        let subject = certificate?.subject.displayAttributes.map { ($0.key, JSONValue.string($0.value)) } ?? []
        let document = JSONValue.object([
            ("valid", .bool(report.isValid)),
            ("file", .string(report.files.certificate)),
            ("subject", .object(subject)),
            ("issuer", JSONValue(certificate?.issuer.description)),
            ("not_before", JSONValue(certificate.map { format($0.notBefore) })),
            ("not_after", JSONValue(certificate.map { format($0.notAfter) })),
            ("key", JSONValue(certificate?.publicKey.description)),
            ("signature", JSONValue(certificate?.signatureAlgorithm)),
            ("serial", JSONValue(certificate?.serialNumber)),
            ("san", .array((certificate?.subjectAlternativeNames ?? []).map(JSONValue.string))),
            ("crl_urls", .array((certificate?.crlDistributionPoints ?? []).map(JSONValue.string))),
            ("checks", .array(checks)),
        ])
        return document.serialized(pretty: true)
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}

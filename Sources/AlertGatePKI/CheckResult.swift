/// The outcome of one certificate check.
public struct CheckResult: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case passed
        case failed(CertificateProblem)
        /// Not run because an earlier check failed or it does not apply; the reason says which.
        case skipped(String)
    }

    public var code: CheckCode
    public var outcome: Outcome
    /// What the operator needs beyond the fixed message: OpenSSL's reason, the file, the URL.
    public var detail: String?

    public init(code: CheckCode, outcome: Outcome, detail: String? = nil) {
        self.code = code
        self.outcome = outcome
        self.detail = detail
    }

    public static func passed(_ code: CheckCode, detail: String? = nil) -> CheckResult {
        CheckResult(code: code, outcome: .passed, detail: detail)
    }

    public static func failed(_ problem: CertificateProblem, detail: String? = nil) -> CheckResult {
        CheckResult(code: problem.code, outcome: .failed(problem), detail: detail)
    }

    public static func skipped(_ code: CheckCode, because reason: String) -> CheckResult {
        CheckResult(code: code, outcome: .skipped(reason))
    }

    public var problem: CertificateProblem? {
        if case .failed(let problem) = outcome { return problem }
        return nil
    }

    public var isFailure: Bool { problem != nil }
}

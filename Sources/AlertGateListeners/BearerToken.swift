import Foundation

/// A webhook listener's `token` (docs/reference.md §11): a POST must carry `Authorization: Bearer
/// TOKEN`. Compared in time that depends on the lengths only, not on where the first
/// difference is, so that a sender cannot find the token byte by byte.
struct BearerToken: Sendable, Equatable {
    private let token: [UInt8]

    init(_ token: String) {
        self.token = Array(token.utf8)
    }

    /// Whether an `Authorization` header value carries the token.
    func admits(_ authorization: String?) -> Bool {
        guard let authorization, !token.isEmpty else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        var difference = UInt8(truncatingIfNeeded: presented.count ^ token.count)
        for index in 0..<presented.count {
            difference |= presented[index] ^ token[index % max(token.count, 1)]
        }
        return difference == 0 && presented.count == token.count
    }
}

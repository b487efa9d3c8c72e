import AlertGateCore
import AlertGatePKI

/// An appliance's validation policy applied to one peer (docs/reference.md §6): the checks always run;
/// `required` refuses on any failure, `none` lets the connection through with the verdict,
/// for the caller to log once per connection and count.
public struct PeerPolicy: Sendable {
    public var policy: ValidationPolicy
    public var expectation: PeerExpectation
    public var validator: PeerValidator

    public init(policy: ValidationPolicy, expectation: PeerExpectation, validator: PeerValidator) {
        self.policy = policy
        self.expectation = expectation
        self.validator = validator
    }

    public func decide(_ peer: TLSPeer) async -> PeerDecision {
        let verdict = await validator.validate(chain: peer.chain, expecting: expectation)
        if verdict.passed || policy == .none {
            return .accept(verdict)
        }
        return .refuse(verdict)
    }
}

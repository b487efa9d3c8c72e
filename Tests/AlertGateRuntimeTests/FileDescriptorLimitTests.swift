import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@testable import AlertGateRuntime

/// `run` raises the soft open-file limit to the hard one (docs/reference.md §11).
@Suite struct FileDescriptorLimitRaiseTests {
    @Test func theSoftLimitIsRaisedToTheHardOne() throws {
        var limits = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0)
        try #require(limits.rlim_max > 1024 && limits.rlim_max < rlim_t(Int32.max), "no finite hard limit to raise to")
        // Just under the hard limit: other tests of this process keep their descriptors.
        var lowered = limits
        lowered.rlim_cur = limits.rlim_max - 1
        try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        let raised = FileDescriptorLimit.raiseToHard()
        var after = rlimit()
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &after)
        #expect(raised.failure == nil)
        #expect(after.rlim_cur == limits.rlim_max)
        #expect(raised.limit == Int(min(limits.rlim_max, rlim_t(Int32.max))))
    }
}

import AlertGateCore
@testable import AlertGateListeners
import Foundation
import NIOCore
import Testing

@Suite struct IntakeBatcherTests {
    func alert(_ title: String) -> Alert {
        Alert(id: title, receivedAt: Date(timeIntervalSince1970: 0), severity: .major, title: title, appliance: "a")
    }

    @Test func aBurstIsOneBatchAndReadingWaitsForIt() {
        var batcher = IntakeBatcher(readAhead: 0)
        let readBefore = batcher.mayRead()
        #expect(readBefore)
        batcher.collect(alert("1"))
        batcher.collect(alert("2"))
        let batch = batcher.batchToSubmit()
        #expect(batch?.map(\.title) == ["1", "2"])
        let readDuring = batcher.mayRead()
        #expect(!readDuring)  // held while the batch is with the intake
        let second = batcher.batchToSubmit()
        #expect(second == nil)
        let next = batcher.stored()
        #expect(next == .resumeReading)
        let readAfter = batcher.mayRead()
        #expect(readAfter)
        #expect(batcher.isIdle)
    }

    @Test func alertsThatCameMeanwhileGoNextBeforeReadingResumes() {
        var batcher = IntakeBatcher(readAhead: 0)
        batcher.collect(alert("1"))
        _ = batcher.batchToSubmit()
        let readDuring = batcher.mayRead()
        #expect(!readDuring)
        batcher.collect(alert("2"))  // delivered outside a read (TLS after its peer check)
        let second = batcher.batchToSubmit()
        #expect(second == nil)  // one batch at a time
        let next = batcher.stored()
        #expect(next == .submit([alert("2")]))
        let readStill = batcher.mayRead()
        #expect(!readStill)
        let last = batcher.stored()
        #expect(last == .resumeReading)
    }

    @Test func whileABatchIsStoredTheNextBurstIsReadUpToTheReadAheadLimit() {
        var batcher = IntakeBatcher(readAhead: 2)
        batcher.collect(alert("1"))
        _ = batcher.batchToSubmit()
        let readAhead = batcher.mayRead()
        #expect(readAhead)
        batcher.collect(alert("2"))
        batcher.collect(alert("3"))
        let readFull = batcher.mayRead()
        #expect(!readFull)  // two read ahead: held
        let second = batcher.batchToSubmit()
        #expect(second == nil)  // one batch at a time, in order
        // Stored: the next batch goes, and with nothing collected the held read resumes.
        let next = batcher.stored()
        #expect(next == .submitAndResume([alert("2"), alert("3")]))
        let readAgain = batcher.mayRead()
        #expect(readAgain)
        let last = batcher.stored()
        #expect(last == .idle)
        #expect(batcher.isIdle)
    }

    @Test func nothingHeldNothingToResume() {
        var batcher = IntakeBatcher(readAhead: 0)
        batcher.collect(alert("1"))
        _ = batcher.batchToSubmit()
        #expect(!batcher.isIdle)
        let next = batcher.stored()
        #expect(next == .idle)
        #expect(batcher.isIdle)
    }

    @Test func theLogLimiterLetsAFewLinesASecondThrough() {
        var limiter = LogRateLimiter(linesPerWindow: 2, window: .seconds(1))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let answers = [
            limiter.admit(now: start), limiter.admit(now: start),
            limiter.admit(now: start + .milliseconds(10)), limiter.admit(now: start + .milliseconds(20)),
            // The next window's first line says how many were left out.
            limiter.admit(now: start + .milliseconds(1_100)), limiter.admit(now: start + .milliseconds(1_100)),
        ]
        #expect(answers == [0, 0, nil, nil, 2, 0])
    }
}

@Suite struct IntakeBatcherLimitTests {
    func alert(_ title: String) -> Alert {
        Alert(id: title, receivedAt: Date(timeIntervalSince1970: 0), severity: .major, title: title, appliance: "a")
    }

    @Test func theBatchIsCappedInBytesAsInAlerts() {
        var batcher = IntakeBatcher(readAhead: 100, readAheadBytes: 1000)
        batcher.collect(alert("1"), bytes: 600)
        #expect(batcher.hasRoom)
        #expect(batcher.room == 99)
        batcher.collect(alert("2"), bytes: 600)
        #expect(!batcher.hasRoom)
        #expect(batcher.room == 0)
        let batch = batcher.batchToSubmit()
        #expect(batch?.count == 2)
        #expect(batcher.inFlightBytes == 1200)
        batcher.collect(alert("3"), bytes: 1000)
        let readWhileFull = batcher.mayRead()
        #expect(!readWhileFull)
        #expect(batcher.dropAll() == 2200)
        #expect(batcher.isIdle)
    }

    @Test func aReadHeldForTheHandlersOwnReasonsResumesWhenThereIsRoom() {
        var batcher = IntakeBatcher(readAhead: 1)
        batcher.collect(alert("1"))
        _ = batcher.batchToSubmit()
        batcher.collect(alert("2"))
        batcher.holdRead()
        let whileFull = batcher.resumeHeldRead()
        #expect(!whileFull)
        let next = batcher.stored()  // "2" goes; nothing collected beside it
        #expect(next == .submitAndResume([alert("2")]))
        batcher.holdRead()  // as the stream handler does while input waits undecoded
        let afterwards = batcher.resumeHeldRead()
        #expect(afterwards)
        let again = batcher.resumeHeldRead()
        #expect(!again)  // passed on once
    }
}

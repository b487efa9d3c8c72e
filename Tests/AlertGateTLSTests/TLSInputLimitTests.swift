import AlertGatePKI
import AlertGateTLS
import AlertGateTesting
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// The server role's input while the client's certificate is checked (docs/reference.md §11): nothing
/// more is read, and what already arrived is capped. A client and a server `TLSHandler`
/// on two `EmbeddedChannel`s exchange bytes in memory; the server's check never ends, as
/// with a CRL URL that never answers.
@Suite struct TLSInputLimitTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    func contexts() throws -> (server: TLSContext, client: TLSContext) {
        let issued = try pki.issue("gateway", commonName: "gateway.contoso.com")
        let server = try TLSContext(TLSConfiguration(
            role: .server(clientAuthentication: .none),
            certificate: try load(issued.certificate)[0],
            privateKey: try PrivateKey.load(from: Array(Data(contentsOf: issued.key)), passphrase: nil),
            chain: try load(pki.chainFile)))
        return (server, try TLSContext(TLSConfiguration(role: .client)))
    }

    /// Moves what each side wrote to the other until neither writes more.
    func exchange(_ client: EmbeddedChannel, _ server: EmbeddedChannel) throws {
        var moved = true
        while moved {
            moved = false
            while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                try server.writeInbound(bytes)
                moved = true
            }
            while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                try client.writeInbound(bytes)
                moved = true
            }
        }
    }

    @Test func whileTheClientIsCheckedNoReadIsPassedOnAndBufferedInputIsCapped() throws {
        let (serverContext, clientContext) = try contexts()
        let limit = 64 * 1024
        let reads = ReadCounter()
        let serverTLS = TLSHandler(context: serverContext, peerCheck: { _ in await checkThatNeverEnds() }, maxBufferedInput: limit)
        let server = EmbeddedChannel(handlers: [reads, serverTLS])
        let client = EmbeddedChannel(handler: TLSHandler(context: clientContext))
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 6514)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()

        server.read()
        #expect(reads.count == 1)  // during the handshake reads go through
        try exchange(client, server)
        #expect(serverTLS.peer != nil)  // the handshake is done; the check runs (for ever)

        server.read()
        server.read()
        #expect(reads.count == 1)  // held while the client is checked

        // The client blasts 4 MiB of records; they are fed in 16 KiB reads.
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 16 * 1024)
        for _ in 0..<256 {
            client.writeAndFlush(chunk, promise: nil)
        }
        var ciphertext = client.outboundBytes()
        var fed = 0
        var mostBuffered = 0
        var failure: (any Error)?
        while ciphertext.readableBytes > 0, server.isActive {
            let piece = ciphertext.readSlice(length: min(16 * 1024, ciphertext.readableBytes))!
            fed += piece.readableBytes
            do {
                try server.writeInbound(piece)
                mostBuffered = max(mostBuffered, serverTLS.bufferedInputBytes)
            } catch {
                failure = error
            }
        }
        if failure == nil { failure = Result { try server.throwIfErrorCaught() }.error }

        #expect(mostBuffered <= limit, "held \(mostBuffered) bytes of ciphertext")
        #expect(fed <= limit + 16 * 1024 + 1, "fed \(fed) bytes before the connection was closed")
        #expect(!server.isActive)
        guard case .some(TLSError.inputLimitExceeded(let reported)) = failure else {
            Issue.record("expected inputLimitExceeded, got \(String(describing: failure))")
            return
        }
        #expect(reported == limit)
        #expect(reads.count == 1)
        #expect(try server.readInbound(as: ByteBuffer.self) == nil)  // no plaintext went up
    }
}

extension EmbeddedChannel {
    /// Everything written so far, as one buffer.
    func outboundBytes() -> ByteBuffer {
        var all = ByteBuffer()
        while var piece = try? readOutbound(as: ByteBuffer.self) {
            all.writeBuffer(&piece)
        }
        return all
    }
}

extension Result where Failure == any Error {
    var error: (any Error)? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Suspends for a day, as a CRL fetch from a server that never answers (nothing in the
/// test waits for it).
func checkThatNeverEnds() async -> PeerDecision {
    try? await Task.sleep(for: .seconds(86_400))
    return .accept(nil)
}

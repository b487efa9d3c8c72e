import Foundation

/// A syslog-over-TLS receiver that misbehaves the way a wedged SIEM does: it completes
/// the handshake (requiring a client certificate), reads `readBytes` of plaintext, then
/// stops reading with a small receive buffer — so TCP stops acknowledging — and finally
/// drops the connection when told to. Written in Python's `ssl` module: an independent peer.
/// Sendable: only constants and a `RunningProcess`.
public final class StallingTLSReceiver: @unchecked Sendable {
    public let port: Int
    private let process: RunningProcess
    private let script: URL
    private let control: URL

    public init(certificate: URL, key: URL, clientCA: URL, readBytes: Int) async throws {
        port = try FreePort.find()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stall-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        script = folder.appendingPathComponent("stall.py")
        control = folder.appendingPathComponent("drop")
        try Self.source.write(to: script, atomically: true, encoding: .utf8)
        process = try RunningProcess("/usr/bin/env", [
            "python3", script.path, String(port), certificate.path, key.path, clientCA.path, String(readBytes), control.path,
        ])
        try await process.waitForOutput(containing: "LISTENING")
    }

    /// Waits until the receiver has read its bytes and stopped reading.
    public func waitUntilStalled() async throws {
        try await process.waitForOutput(containing: "STALLED")
    }

    /// Closes the connection with unread data in it (the kernel answers with RST).
    public func drop() throws {
        try "drop".write(to: control, atomically: true, encoding: .utf8)
    }

    /// The plaintext it read before stalling.
    public var received: String {
        process.standardOutput
    }

    deinit {
        process.signal(SIGKILL)
    }

    static let source = #"""
        import os, socket, ssl, sys, time
        port, cert, key, ca, limit, control = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(ca)
        context.verify_mode = ssl.CERT_REQUIRED
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        print("LISTENING", file=sys.stderr, flush=True)
        raw, _ = listener.accept()
        connection = context.wrap_socket(raw, server_side=True)
        received = b""
        while len(received) < limit:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
        sys.stdout.buffer.write(received)
        sys.stdout.flush()
        print("STALLED", file=sys.stderr, flush=True)
        while not os.path.exists(control):
            time.sleep(0.05)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        raw.close()
        print("DROPPED", file=sys.stderr, flush=True)
        time.sleep(30)
        """#
}

import Foundation

/// A syslog-over-TLS partner that records who sent what: it requires a client certificate
/// chaining to `clientCA`, and notes each connection's certificate serial and each message
/// (octet-counted or one per line) with the serial of the connection it came on. Several
/// connections at once. Written in Python's `ssl` module: an independent peer.
/// Sendable: only constants and a `RunningProcess`.
public final class RecordingTLSReceiver: @unchecked Sendable {
    public struct Message: Sendable, Hashable {
        /// The client certificate's serial number, upper-case hex as `openssl x509 -serial`.
        public var serial: String
        public var text: String
    }

    public let port: Int
    private let process: RunningProcess

    public init(certificate: URL, key: URL, clientCA: URL, port: Int? = nil) async throws {
        self.port = try port ?? FreePort.find()
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString).py")
        try Self.source.write(to: script, atomically: true, encoding: .utf8)
        process = try RunningProcess("/usr/bin/env", ["python3", script.path, String(self.port), certificate.path, key.path, clientCA.path])
        try await process.waitForOutput(containing: "LISTENING")
    }

    /// Serials of the connections closed so far, in order.
    public var closedConnections: [String] {
        process.standardError.split(separator: "\n").compactMap { line in
            line.hasPrefix("CLOSED ") ? String(line.dropFirst("CLOSED ".count)) : nil
        }
    }

    /// Serials of the connections made so far, in order.
    public var connections: [String] {
        process.standardError.split(separator: "\n").compactMap { line in
            line.hasPrefix("CONNECTION ") ? String(line.dropFirst("CONNECTION ".count)) : nil
        }
    }

    public var messages: [Message] {
        process.standardOutput.split(separator: "\n").compactMap { (line: Substring) -> Message? in
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            return Message(serial: String(parts[0]), text: String(parts[1]))
        }
    }

    deinit {
        process.signal(SIGKILL)
    }

    static let source = #"""
        import socket, ssl, sys, threading
        port, cert, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(ca)
        context.verify_mode = ssl.CERT_REQUIRED
        lock = threading.Lock()

        def frames(stream):
            buffer = b""
            while True:
                chunk = stream.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while buffer:
                    if buffer[:1].isdigit():
                        space = buffer.find(b" ")
                        if space < 0:
                            break
                        length = int(buffer[:space])
                        if len(buffer) < space + 1 + length:
                            break
                        yield buffer[space + 1:space + 1 + length]
                        buffer = buffer[space + 1 + length:]
                    else:
                        newline = buffer.find(b"\n")
                        if newline < 0:
                            break
                        yield buffer[:newline]
                        buffer = buffer[newline + 1:]

        def serve(raw):
            try:
                stream = context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as error:
                print("REFUSED %s" % error, file=sys.stderr, flush=True)
                return
            serial = stream.getpeercert().get("serialNumber", "?").upper()
            print("CONNECTION " + serial, file=sys.stderr, flush=True)
            try:
                for message in frames(stream):
                    with lock:
                        sys.stdout.write(serial + "\t" + message.decode("utf-8", "replace").replace("\n", " ") + "\n")
                        sys.stdout.flush()
            except (ssl.SSLError, OSError):
                pass
            print("CLOSED " + serial, file=sys.stderr, flush=True)

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(16)
        print("LISTENING", file=sys.stderr, flush=True)
        while True:
            raw, _ = listener.accept()
            threading.Thread(target=serve, args=(raw,), daemon=True).start()
        """#
}

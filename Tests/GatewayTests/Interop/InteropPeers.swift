import AlertGateTesting
import Foundation

/// The receivers and senders people run beside alertgate (docs/reference.md §12), started by the tests
/// on 127.0.0.1 with configs written at test time into the harness's folder: rsyslog
/// (imtcp and omfwd, ossl or gtls), syslog-ng (`syslog()` and `network()`), nginx (HTTP/2
/// with client certificates and name-based virtual hosts). `tools/install-peers.sh`
/// installs them; nothing runs as a system service and nothing under /etc is read or
/// written.
enum InteropPeers {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// syslog-ng, unpacked by tools/install-peers.sh (it conflicts with rsyslog as a
    /// Debian package).
    static var syslogNG: (binary: String, environment: [String: String], modulePath: String) {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let prefix = package.appendingPathComponent(".build-peers/syslog-ng/usr").path
        return ("\(prefix)/sbin/syslog-ng", ["LD_LIBRARY_PATH": "\(prefix)/lib/syslog-ng"], "\(prefix)/lib/syslog-ng/3.38")
    }

    /// A folder of its own for one peer inside `base`.
    static func folder(_ name: String, in base: URL) throws -> URL {
        let folder = base.appendingPathComponent("peer-\(name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Waits until something accepts TCP connections on `port` (the peer is up), or fails
    /// with the peer's output.
    static func waitForPort(_ port: Int, process: RunningProcess, timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if canConnect(port) { return }
            guard process.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "nothing listens on 127.0.0.1:\(port)\n\(process.standardOutput)\n\(process.standardError)")
    }

    /// Checks a peer's config with its own checker (`check`), starts it in the foreground
    /// (`run`) and waits until it listens on `port`.
    static func launch(_ executable: String, check: [String], run: [String], environment: [String: String] = [:], port: Int) async throws -> RunningProcess {
        let checked = try await ProcessRunner.captureDetached(executable, check, environment: environment)
        guard checked.status == 0 else {
            throw Failure(description: "\(executable) \(check.joined(separator: " ")) refused the config: \(checked.standardError)\(checked.standardOutput)")
        }
        let process = try RunningProcess(executable, run, environment: environment)
        try await waitForPort(port, process: process)
        return process
    }

    static func canConnect(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The lines of `file` once it holds `count` of them (a receiver writes as it goes).
    static func lines(of file: URL, count: Int, process: RunningProcess, timeout: Duration = .seconds(60)) async throws -> [String] {
        var lines: [String] = []
        let arrived = await eventually(timeout: timeout) {
            lines = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return lines.count >= count
        }
        guard arrived else {
            throw Failure(description: "\(file.lastPathComponent) holds \(lines.count) of \(count) lines\n\(process.standardOutput.suffix(4000))\n\(process.standardError.suffix(4000))")
        }
        return lines
    }
}

/// A peer process the tests started, writing what it received to `output`.
protocol InteropPeer {
    var process: RunningProcess { get }
    var output: URL { get }
}

extension InteropPeer {
    func lines(count: Int) async throws -> [String] {
        try await InteropPeers.lines(of: output, count: count, process: process)
    }

    func stop() async {
        process.signal(SIGTERM)
        _ = try? await process.waitForExit(timeout: .seconds(10))
    }
}

// MARK: rsyslog

/// `rsyslogd -n` with its own config, work folder and pid file.
struct Rsyslog: InteropPeer {
    enum Driver: String {
        case ossl
        case gtls
    }

    let process: RunningProcess
    let folder: URL

    var output: URL { folder.appendingPathComponent("received.txt") }

    /// An imtcp receiver over TLS (`driver`), requiring a client certificate whose name is
    /// `permittedPeer` (`AuthMode="x509/name"`), writing `%app-name%`, `%structured-data%`
    /// and `%msg%` of each message, tab-separated, one a line.
    static func receiver(
        driver: Driver, port: Int, certificate: URL, key: URL, caFile: URL, permittedPeer: String, in base: URL
    ) async throws -> Rsyslog {
        let folder = try InteropPeers.folder("rsyslog-\(driver)-\(port)", in: base)
        let output = folder.appendingPathComponent("received.txt")
        let config = """
            global(workDirectory="\(folder.path)" maxMessageSize="64k" parser.escapeControlCharacterTab="off"
                   defaultNetstreamDriverCAFile="\(caFile.path)"
                   defaultNetstreamDriverCertFile="\(certificate.path)"
                   defaultNetstreamDriverKeyFile="\(key.path)")
            module(load="imtcp" streamDriver.name="\(driver.rawValue)" streamDriver.mode="1"
                   streamDriver.authMode="x509/name" permittedPeer=["\(permittedPeer)"])
            input(type="imtcp" address="127.0.0.1" port="\(port)")
            template(name="fields" type="string" string="%app-name%\\t%structured-data%\\t%msg%\\n")
            action(type="omfile" file="\(output.path)" template="fields")

            """
        return try await start(config: config, folder: folder, waitFor: port)
    }

    /// A forwarder: plain imtcp on `inputPort` (the test feeds it), `omfwd` over ossl to
    /// alertgate's syslog-tls listener on `gatewayPort`, presenting `certificate`, checking
    /// the gateway's name, in `framing` ("octet-counted" or "traditional").
    static func forwarder(
        inputPort: Int, gatewayPort: Int, gatewayName: String, certificate: URL, key: URL, caFile: URL, framing: String, in base: URL
    ) async throws -> Rsyslog {
        let folder = try InteropPeers.folder("rsyslog-omfwd-\(inputPort)", in: base)
        let config = """
            global(workDirectory="\(folder.path)"
                   defaultNetstreamDriverCAFile="\(caFile.path)"
                   defaultNetstreamDriverCertFile="\(certificate.path)"
                   defaultNetstreamDriverKeyFile="\(key.path)")
            module(load="imtcp")
            input(type="imtcp" address="127.0.0.1" port="\(inputPort)")
            action(type="omfwd" target="127.0.0.1" port="\(gatewayPort)" protocol="tcp"
                   streamDriver="ossl" streamDriverMode="1" streamDriverAuthMode="x509/name"
                   streamDriverPermittedPeers="\(gatewayName)" tcp_framing="\(framing)"
                   template="RSYSLOG_SyslogProtocol23Format")

            """
        return try await start(config: config, folder: folder, waitFor: inputPort)
    }

    private static func start(config: String, folder: URL, waitFor port: Int) async throws -> Rsyslog {
        let file = folder.appendingPathComponent("rsyslog.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let process = try await InteropPeers.launch(
            "/usr/sbin/rsyslogd", check: ["-N1", "-f", file.path], run: ["-n", "-f", file.path, "-i", folder.appendingPathComponent("rsyslogd.pid").path], port: port)
        return Rsyslog(process: process, folder: folder)
    }
}

// MARK: syslog-ng

/// syslog-ng 3.38 in the foreground with its own config, persist, pid and control files.
struct SyslogNG: InteropPeer {
    let process: RunningProcess
    let folder: URL

    var output: URL { folder.appendingPathComponent("received.txt") }

    /// The fields each receiver writes, tab-separated, one message a line.
    static let fields = "${PROGRAM}\\t${SDATA}\\t${.SDATA.alertgate@32473.appliance}\\t${MSG}\\n"

    /// A TLS receiver requiring a client certificate: the `syslog()` source (RFC 5425
    /// octet counting), or `network()` with `flags(syslog-protocol)` (one message a line).
    static func receiver(
        source: String, port: Int, certificate: URL, key: URL, caFile: URL, in base: URL
    ) async throws -> SyslogNG {
        let folder = try InteropPeers.folder("syslog-ng-\(source)-\(port)", in: base)
        let output = folder.appendingPathComponent("received.txt")
        let flags = source == "network" ? " flags(syslog-protocol)" : ""
        let config = """
            @version: 3.38
            options { use-dns(no); use-fqdn(no); keep-hostname(yes); stats-freq(0); log-msg-size(65536); };
            source s_in {
              \(source)(ip("127.0.0.1") port(\(port)) transport("tls")\(flags)
                tls(key-file("\(key.path)") cert-file("\(certificate.path)") ca-file("\(caFile.path)")
                    peer-verify(required-trusted)));
            };
            destination d_file { file("\(output.path)" template("\(fields)")); };
            log { source(s_in); destination(d_file); };

            """
        return try await start(config: config, folder: folder, waitFor: port)
    }

    /// A forwarder: plain `network()` on `inputPort` (RFC 5424 lines from the test), the
    /// `syslog()` destination over TLS to alertgate's listener, presenting `certificate`.
    static func forwarder(
        inputPort: Int, gatewayPort: Int, certificate: URL, key: URL, caFile: URL, in base: URL
    ) async throws -> SyslogNG {
        let folder = try InteropPeers.folder("syslog-ng-fwd-\(inputPort)", in: base)
        let config = """
            @version: 3.38
            options { use-dns(no); use-fqdn(no); keep-hostname(yes); stats-freq(0); };
            source s_in { network(ip("127.0.0.1") port(\(inputPort)) transport("tcp") flags(syslog-protocol)); };
            destination d_gateway {
              syslog("127.0.0.1" port(\(gatewayPort)) transport("tls")
                tls(key-file("\(key.path)") cert-file("\(certificate.path)") ca-file("\(caFile.path)")
                    peer-verify(required-trusted)));
            };
            log { source(s_in); destination(d_gateway); };

            """
        return try await start(config: config, folder: folder, waitFor: inputPort)
    }

    private static func start(config: String, folder: URL, waitFor port: Int) async throws -> SyslogNG {
        let file = folder.appendingPathComponent("syslog-ng.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let peer = InteropPeers.syslogNG
        let common = ["--module-path=\(peer.modulePath)", "-f", file.path]
        let run = common + [
            "-F", "-e", "--no-caps", "-R", folder.appendingPathComponent("persist").path,
            "-p", folder.appendingPathComponent("pid").path, "-c", folder.appendingPathComponent("ctl").path,
        ]
        let process = try await InteropPeers.launch(peer.binary, check: common + ["--syntax-only"], run: run, environment: peer.environment, port: port)
        return SyslogNG(process: process, folder: folder)
    }
}

// MARK: nginx

/// nginx as an HTTP/2 front: two name-based virtual hosts on one port, both requiring a
/// client certificate. `partner.test` takes POSTs (proxied to a local answerer, so that
/// nginx reads the body into `$request_body`); `other.test` is the default server and
/// answers 404. The access log has one line a request:
/// `server_name|http2|status|content_type|user_agent|body` (the body's line ends escaped).
struct Nginx: InteropPeer {
    let process: RunningProcess
    let folder: URL

    var accessLog: URL { folder.appendingPathComponent("access.log") }
    var output: URL { accessLog }

    static func start(port: Int, certificateChain: URL, key: URL, caFile: URL, in base: URL) async throws -> Nginx {
        let folder = try InteropPeers.folder("nginx-\(port)", in: base)
        let answerer = try FreePort.find()
        let tls = """
                ssl_certificate \(certificateChain.path);
                ssl_certificate_key \(key.path);
                ssl_client_certificate \(caFile.path);
                ssl_verify_client on;
                ssl_verify_depth 3;
            """
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(folder.path)/nginx.pid;
            error_log \(folder.path)/error.log info;
            events { worker_connections 64; }
            http {
                client_body_temp_path \(folder.path)/body;
                proxy_temp_path \(folder.path)/proxy;
                fastcgi_temp_path \(folder.path)/fastcgi;
                uwsgi_temp_path \(folder.path)/uwsgi;
                scgi_temp_path \(folder.path)/scgi;
                log_format fields escape=json '$server_name|$http2|$status|$content_type|$http_user_agent|$request_body';
                server {
                    listen 127.0.0.1:\(port) ssl http2 default_server;
                    server_name other.test;
            \(tls)
                    access_log \(folder.path)/access.log fields;
                    location / { return 404; }
                }
                server {
                    listen 127.0.0.1:\(port) ssl http2;
                    server_name partner.test;
            \(tls)
                    access_log \(folder.path)/access.log fields;
                    client_body_buffer_size 2m;
                    client_max_body_size 4m;
                    client_body_in_single_buffer on;
                    location / { proxy_pass http://127.0.0.1:\(answerer)/; }
                }
                server {
                    listen 127.0.0.1:\(answerer);
                    access_log off;
                    location / { return 200 '{"ok":true}'; }
                }
            }

            """
        let file = folder.appendingPathComponent("nginx.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let paths = ["-c", file.path, "-p", folder.path, "-e", folder.appendingPathComponent("error.log").path]
        let process = try await InteropPeers.launch("/usr/sbin/nginx", check: ["-t"] + paths, run: paths, port: port)
        return Nginx(process: process, folder: folder)
    }

    struct Request {
        var serverName: String
        var http2: String
        var status: Int
        var contentType: String
        var userAgent: String
        /// The POST's body, with nginx's JSON escaping undone.
        var body: String
    }

    /// The access log's requests once it holds `count`.
    func requests(count: Int) async throws -> [Request] {
        try await lines(count: count).map { line in
            let fields = line.split(separator: "|", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 6 else { throw InteropPeers.Failure(description: "unexpected access log line: \(line)") }
            // escape=json writes the body as the inside of a JSON string.
            let body = try JSONSerialization.jsonObject(with: Data("\"\(fields[5])\"".utf8), options: .fragmentsAllowed) as? String ?? ""
            return Request(serverName: fields[0], http2: fields[1], status: Int(fields[2]) ?? 0, contentType: fields[3], userAgent: fields[4], body: body)
        }
    }
}

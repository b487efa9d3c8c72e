import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads `config.yaml` into a `GatewayConfig`, or every problem found, each at its line and
/// column (docs/reference.md section 4).
///
/// The text is composed into Yams nodes and decoded by hand from them, so that a problem
/// carries the position of the node it concerns and decoding goes on past it.
public struct ConfigLoader: Sendable {
    /// Names of the registered transport plugins (`transport:` must be one of them).
    public var knownTransports: Set<String>
    /// Where `${VAR}` takes its values.
    public var environment: [String: String]

    public init(knownTransports: Set<String>, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.knownTransports = knownTransports
        self.environment = environment
    }

    /// Loads the file at `path`; relative paths in it are resolved against its folder.
    public func load(path: String) -> Result<GatewayConfig, ConfigErrors> {
        let absolute = PathResolution.resolve(path, against: FileManager.default.currentDirectoryPath)
        let folder = URL(fileURLWithPath: absolute).deletingLastPathComponent()
        switch Self.readText(atPath: path) {
        case .success(let text):
            return load(text: text, baseDirectory: folder)
        case .failure(let diagnostic):
            return .failure(ConfigErrors(diagnostics: [diagnostic]))
        }
    }

    /// Loads `text` as if it were a file in `baseDirectory`.
    public func load(text: String, baseDirectory: URL) -> Result<GatewayConfig, ConfigErrors> {
        switch YAMLComposition.compose(text) {
        case .failure(let diagnostic):
            return .failure(ConfigErrors(diagnostics: [diagnostic]))
        case .document(let root, let restorer):
            let decoder = ConfigDecoder(
                environment: environment,
                knownTransports: knownTransports,
                baseDirectory: PathResolution.absolutePath(of: baseDirectory),
                restorer: restorer
            )
            let config = decoder.decodeDocument(root)
            if decoder.diagnostics.isEmpty {
                return .success(config)
            }
            return .failure(ConfigErrors(diagnostics: decoder.diagnostics))
        }
    }

    private static func readText(atPath path: String) -> Result<String, ConfigDiagnostic> {
        func failure(_ reason: String) -> Result<String, ConfigDiagnostic> {
            .failure(ConfigDiagnostic(location: .start, message: "cannot read the config file: \(reason)"))
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return failure("it is a directory")
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            return failure(String(cString: strerror(errno)))
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            return failure("\(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return failure("it is not UTF-8 text")
        }
        return .success(text)
    }
}

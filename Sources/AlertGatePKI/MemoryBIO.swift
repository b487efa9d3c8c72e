internal import COpenSSL

/// An owned OpenSSL memory BIO, for handing bytes to the PEM/DER readers and collecting
/// what the writers produce.
final class MemoryBIO {
    private let pointer: OpaquePointer

    /// A read-only BIO over a copy of `bytes`.
    init(_ bytes: [UInt8]) {
        // BIO_new_mem_buf would alias the Swift array; copying keeps lifetimes simple.
        pointer = BIO_new(BIO_s_mem())
        _ = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
    }

    /// An empty BIO to write into.
    init() {
        pointer = BIO_new(BIO_s_mem())
    }

    deinit {
        BIO_free(pointer)
    }

    /// Calls `body` with the BIO, keeping it alive until `body` returns: Swift may free an
    /// object right after its last use, which would be before the C call that reads it.
    func withPointer<Result>(_ body: (OpaquePointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(pointer) }
    }

    /// Everything written so far, as bytes.
    var bytes: [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let count = CShims_BIO_get_mem_data(pointer, &data)
        guard count > 0, let data else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }

    var string: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// The non-empty lines written so far.
    var lines: [String] {
        string.split(separator: "\n").map(String.init)
    }
}

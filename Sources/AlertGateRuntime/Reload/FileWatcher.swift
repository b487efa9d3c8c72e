import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Changes to a set of files, through inotify on their folders (editors and `cp` replace
/// files by rename as often as they write them in place, and a watch on the file itself
/// would stay on the old inode). One element per burst of changes, once the files have
/// been quiet for `debounce`: a file half-written is not read.
enum FileWatcher {
    static func changes(of paths: [String], debounce: Duration = .milliseconds(300)) -> AsyncStream<Void> {
        AsyncStream { continuation in
            let stopped = Atomic<Bool>(false)
            let thread = Thread {
                watch(paths, debounce: debounce, stopped: stopped) { continuation.yield() }
                continuation.finish()
            }
            thread.name = "alertgate file watcher"
            continuation.onTermination = { _ in stopped.store(true, ordering: .relaxed) }
            thread.start()
        }
    }

    /// Runs on its own thread until `stopped`: polls every 200 ms so that stopping is noticed.
    private static func watch(_ paths: [String], debounce: Duration, stopped: borrowing Atomic<Bool>, changed: () -> Void) {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var names: [Int32: Set<String>] = [:]
        for (folder, files) in Dictionary(grouping: paths.map(URL.init(fileURLWithPath:)), by: { $0.deletingLastPathComponent().path }) {
            let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_ATTRIB)
            let watch = inotify_add_watch(descriptor, folder, mask)
            if watch >= 0 {
                names[watch] = Set(files.map(\.lastPathComponent))
            }
        }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var pending: ContinuousClock.Instant?
        while !stopped.load(ordering: .relaxed) {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 200) > 0 {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0, relevant(buffer, count: count, names: names) {
                    pending = .now
                }
            }
            if let last = pending, ContinuousClock.now - last >= debounce {
                pending = nil
                changed()
            }
        }
    }

    /// Whether the events in `buffer` name one of the watched files.
    private static func relevant(_ buffer: [UInt8], count: Int, names: [Int32: Set<String>]) -> Bool {
        let header = MemoryLayout<inotify_event>.size
        var offset = 0
        var found = false
        buffer.withUnsafeBytes { raw in
            while offset + header <= count {
                let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameBytes = raw[(offset + header)..<min(count, offset + header + length)].prefix { $0 != 0 }
                if names[watch]?.contains(String(decoding: nameBytes, as: UTF8.self)) == true {
                    found = true
                }
                offset += header + length
            }
        }
        return found
    }
}

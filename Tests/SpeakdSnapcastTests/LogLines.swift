import Foundation

/// Collects a switcher's log lines. Threading: any thread (under a lock).
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var sink: @Sendable (String) -> Void { { [self] in append($0) } }
}

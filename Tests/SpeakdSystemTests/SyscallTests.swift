import Dispatch
import SpeakdSystem
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The system-call layer: EINTR is retried (unless the call must not be repeated), errno becomes the thrown `Errno`,
/// and a thread that cannot start is a `ThreadStartError`.
final class SyscallTests: XCTestCase {
    func testAnInterruptedCallIsRetriedAndItsResultReturned() throws {
        var calls = 0
        let result = try Syscall.call("test") { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        XCTAssertEqual(result, 7)
        XCTAssertEqual(calls, 3)
    }

    func testAFailureThrowsItsErrnoOnceWithoutRetrying() {
        var calls = 0
        XCTAssertThrowsError(try Syscall.call("test") { () -> Int in
            calls += 1
            errno = EAGAIN
            return -1
        }) { error in
            XCTAssertEqual(error as? Errno, .resourceTemporarilyUnavailable)
        }
        XCTAssertEqual(calls, 1)
    }

    func testAnInterruptIsReportedWhenTheCallMustNotBeRepeated() {
        var calls = 0
        XCTAssertThrowsError(try Syscall.call("connect", retryOnInterrupt: false) { () -> Int32 in
            calls += 1
            errno = EINTR
            return -1
        }) { error in
            XCTAssertEqual(error as? Errno, .interrupted)
        }
        XCTAssertEqual(calls, 1)
    }

    func testConnectingToAMissingSocketSaysSo() throws {
        let socket = try Syscall.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue))
        defer { try? socket.close() }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = "/tmp/speakd-no-such-socket-\(getpid())"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        XCTAssertThrowsError(try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try Syscall.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }) { error in
            XCTAssertEqual(error as? Errno, .noSuchFileOrDirectory)
            XCTAssertEqual(Errno.message(of: error), "No such file or directory")
        }
    }

    func testAPipeCarriesBytesThroughFileDescriptors() throws {
        let (reading, writing) = try FileDescriptor.pipe()
        defer { try? reading.close() }
        let message: [UInt8] = Array("ready\n".utf8)
        XCTAssertEqual(try writing.writeAll(message), message.count)
        try writing.close()
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = try buffer.withUnsafeMutableBytes { try reading.read(into: $0) }
        XCTAssertEqual(Array(buffer[..<count]), message)
    }

    func testAThreadRunsItsBody() throws {
        let done = DispatchSemaphore(value: 0)
        try Threads.start(name: "speakd-test") { done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        let failure = ThreadStartError(thread: "speakd-audio", errno: .resourceTemporarilyUnavailable)
        XCTAssertEqual(failure.description, "cannot start the thread speakd-audio: Resource temporarily unavailable")
    }
}

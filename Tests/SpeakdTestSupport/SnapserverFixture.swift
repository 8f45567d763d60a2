import Foundation
import SpeakdSnapcast

/// A private snapserver on loopback (free ports, its own data directory, HTTP off) with three streams — `music` and
/// `radio` (pipes) and `announce` (a TCP source in server mode), or with `meta: true` a `house` stream (meta: the
/// announcement over the music) instead of the radio — and snapclients that play into nothing or into a file.
/// Client N connects as `--hostID roomN -i N`, so snapserver calls it `room1`, `room2#2`, …
///
/// Threading: the test's thread only.
public final class SnapserverFixture {
    public let directory: String
    public let streamPort: Int
    public let controlPort: Int
    public let announcePort: Int
    public private(set) var server: Subprocess?
    private var clients: [Subprocess] = []

    public var control: HostAndPort { HostAndPort("127.0.0.1:\(controlPort)")! }

    /// The music pipe (write s16le 48 kHz stereo to it).
    public var musicPipe: String { "\(directory)/music" }

    public init(meta: Bool = false, buffer: Int = 400) throws {
        directory = NSTemporaryDirectory() + "speakd-snaprpc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ports = try Self.freePorts(3)
        (streamPort, controlPort, announcePort) = (ports[0], ports[1], ports[2])
        let configuration = """
            [server]
            datadir = \(directory)
            [http]
            enabled = false
            [tcp]
            bind_to_address = 127.0.0.1
            port = \(controlPort)
            [stream]
            bind_to_address = 127.0.0.1
            port = \(streamPort)
            source = pipe://\(directory)/music?name=music
            source = tcp://127.0.0.1:\(announcePort)?name=announce&mode=server&sampleformat=48000:16:2
            source = \(meta ? "meta:///announce/music?name=house" : "pipe://\(directory)/radio?name=radio")
            buffer = \(buffer)

            """
        try configuration.write(toFile: "\(directory)/snapserver.conf", atomically: true, encoding: .utf8)
    }

    /// Starts snapserver and waits until its control port answers.
    public func startServer() throws {
        server = try Subprocess("/usr/bin/snapserver", ["-c", "\(directory)/snapserver.conf"],
                                stdout: .file("\(directory)/snapserver.log"), stderr: .file("\(directory)/snapserver.log"))
        _ = try poll("snapserver's control port \(controlPort) to answer") { try self.groups() }
    }

    /// Stops snapserver (SIGTERM, so it saves its groups), leaving the clients to reconnect to the next one.
    public func stopServer() {
        guard let server else { return }
        Self.stop(server)
        self.server = nil
    }

    /// Starts client `number` (`--hostID roomN`), playing into `output` (a raw file of the stream's format, appended
    /// to: the file player writes to stdout, since a file of its own is truncated at every change of stream) or
    /// nothing.
    public func startClient(_ number: Int, output: String? = nil) throws {
        let log = "\(directory)/client\(number).log"
        clients.append(try Subprocess("/usr/bin/snapclient",
                                      ["-h", "127.0.0.1", "-p", "\(streamPort)", "-i", "\(number)", "--hostID", "room\(number)",
                                       "--player", output == nil ? "file:filename=null" : "file:filename=stdout", "--logsink", "stderr"],
                                      stdout: output.map { .file($0) } ?? .null, stderr: .file(log)))
    }

    /// Kills every process (by its pid) and removes the directory.
    public func tearDown() {
        for client in clients { Self.stop(client) }
        clients = []
        stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Server.GetStatus's groups, through a connection of the test's own.
    public func groups() throws -> [SnapcastGroup] {
        let rpc = SnapcastRPCClient(server: control, connectTimeout: 2, readTimeout: 5)
        return try rpc.groups()
    }

    /// Client id → the stream its group plays.
    public func streams() throws -> [String: String] {
        var streams: [String: String] = [:]
        for group in try groups() {
            for client in group.clients { streams[client.id] = group.streamID }
        }
        return streams
    }

    /// Waits until every client in `ids` is listed (each connecting client gets a group of its own).
    public func waitForClients(_ ids: [String]) throws {
        _ = try poll("clients \(ids) to appear in Server.GetStatus") { () throws -> Bool? in
            let listed = try self.streams()
            return ids.allSatisfy { listed[$0] != nil } ? true : nil
        }
    }

    /// The group the client `id` is in.
    public func group(of id: String) throws -> SnapcastGroup {
        guard let group = try groups().first(where: { $0.clients.contains { $0.id == id } }) else {
            throw SubprocessError("no group has the client \(id)")
        }
        return group
    }

    /// Calls `body` every 100 ms until it returns a value without throwing; fails after 20 s (the machine is busy).
    public func poll<T>(_ what: String, seconds: Double = 20, _ body: () throws -> T?) throws -> T {
        let deadline = Date(timeIntervalSinceNow: seconds)
        var last = "nothing yet"
        while Date() < deadline {
            do {
                if let value = try body() { return value }
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw SubprocessError("timed out after \(seconds) s waiting for \(what) (last: \(last))")
    }

    private static func stop(_ process: Subprocess) {
        process.terminate()
        if !process.waitUntilExit(timeout: 5) {
            process.signal(SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Ports free on 127.0.0.1 now: bound together (so they differ), then released for the server to take.
    private static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw SubprocessError("socket: \(String(cString: strerror(errno)))") }
            sockets.append(descriptor)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
                }
            }
            guard bound else { throw SubprocessError("bind: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

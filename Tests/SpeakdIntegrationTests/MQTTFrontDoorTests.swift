import Foundation
import SpeakdProtocol
import XCTest

/// The MQTT front door ([mqtt]) against a real mosquitto broker started here, the mock upstream and the null sink.
final class MQTTFrontDoorTests: IntegrationTestCase {
    private var broker: Child?
    private var brokerPort = 0
    private var watcher: Child?

    override func tearDownWithError() throws {
        watcher = nil
        broker = nil
        try super.tearDownWithError()
    }

    private func startBroker() throws {
        broker = try Child("/usr/sbin/mosquitto", ["-p", "\(brokerPort)"])
        try waitForPort(brokerPort)
    }

    private func startAll() throws -> DaemonProcess {
        brokerPort = Harness.unusedPort()
        try startBroker()
        // Every message on speakd/ and homeassistant/, with its topic, as it arrives.
        watcher = try Child("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(brokerPort)", "-v", "-t", "speakd/#",
                                                       "-t", "homeassistant/#"])
        usleep(200_000)
        return try startDaemon(config: """
            [mqtt]
            enabled = true
            host = "127.0.0.1"
            port = \(brokerPort)
            node = "testnode"
            """)
    }

    private var seen: [String] { String(decoding: watcher?.stdoutSoFar ?? Data(), as: UTF8.self).split(separator: "\n").map(String.init) }

    private func waitFor(_ what: String, after count: Int = 0, timeout: TimeInterval = 15, _ matches: (String) -> Bool) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let lines = seen
            if let index = lines.indices.dropFirst(count).first(where: { matches(lines[$0]) }) { return index }
            usleep(20_000)
        }
        throw HarnessError("no MQTT message \(what); seen: \(seen.suffix(20))")
    }

    private func publish(_ topic: String, _ message: String) throws {
        let result = try Child("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(brokerPort)", "-t", topic, "-m", message]).finish()
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func testSpeaksPublishesStateAndDiscovery() throws {
        let daemon = try startAll()
        _ = try waitFor("online") { $0 == "speakd/testnode/availability online" }
        // Discovery: retained (a new subscriber gets them at once), valid JSON, with what Home Assistant requires.
        let retained = try Child("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(brokerPort)", "-v", "-t",
                                                            "homeassistant/#", "-C", "3", "-W", "5"]).finish()
        let configs = retained.stdout.split(separator: "\n")
        XCTAssertEqual(configs.count, 3, retained.stdout)
        for line in configs {
            let parts = line.split(separator: " ", maxSplits: 1)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any], String(line))
            XCTAssertNotNil(object["unique_id"], String(line))
            XCTAssertNotNil(object["device"], String(line))
            XCTAssertEqual(object["availability_topic"] as? String, "speakd/testnode/availability")
            XCTAssertNotNil(object[parts[0].contains("/sensor/") ? "state_topic" : "command_topic"], String(line))
        }
        // A plain-text message is spoken: state goes speaking, then idle; the upstream was asked for it.
        let before = seen.count
        try publish("speakd/testnode/say", "Hello from MQTT.")
        let speaking = try waitFor("speaking", after: before) { $0.hasPrefix("speakd/testnode/state ") && $0.contains(#""state":"speaking""#) }
        _ = try waitFor("idle", after: speaking) { $0.hasPrefix("speakd/testnode/state ") && $0.contains(#""state":"idle""#) }
        // JSON speak fields, and a bad one answered on …/error.
        try publish("speakd/testnode/say", #"{"input":"JSON fields.","priority":"important"}"#)
        try publish("speakd/testnode/say", #"{"input":"Bad.","priority":"loud"}"#)
        _ = try waitFor("error") { $0.hasPrefix("speakd/testnode/error ") && $0.contains("priority") }
        try publish("speakd/testnode/command", "dance")
        _ = try waitFor("unknown command") { $0.contains("unknown command") }
        let mark = seen.count
        _ = try waitFor("idle again", after: mark - 1) { $0.contains(#""state":"idle""#) }
        let inputs = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["Hello from MQTT.", "JSON fields."])
        // stop from the button's topic cancels a long job.
        try publish("speakd/testnode/say", String(repeating: "long ", count: 80))
        let long = try waitFor("long speaking", after: mark) { $0.contains(#""state":"speaking""#) }
        try publish("speakd/testnode/command", "stop")
        _ = try waitFor("idle after stop", after: long) { $0.contains(#""state":"idle""#) }
        // speakd stops: availability goes offline.
        let end = seen.count
        _ = daemon.stop()
        self.daemon = nil
        _ = try waitFor("offline", after: end) { $0 == "speakd/testnode/availability offline" }
        XCTAssertGreaterThan(try XCTUnwrap(recorder).samples.rms, 50, "nothing was heard")
    }

    /// A broker that refuses anonymous clients: speakd logs in with the username and the password file, and the
    /// password appears nowhere in its log.
    func testLogsInWithUsernameAndPassword() throws {
        brokerPort = Harness.unusedPort()
        let passwords = directory.appendingPathComponent("mosquitto.passwd").path
        let secret = "pw-61c0e5a7"
        XCTAssertEqual(try Child("/usr/bin/mosquitto_passwd", ["-b", "-c", passwords, "speaker", secret]).finish().status, 0)
        let brokerConfig = directory.appendingPathComponent("mosquitto.conf")
        try "listener \(brokerPort) 127.0.0.1\nallow_anonymous false\npassword_file \(passwords)\n"
            .write(to: brokerConfig, atomically: true, encoding: .utf8)
        broker = try Child("/usr/sbin/mosquitto", ["-c", brokerConfig.path])
        try waitForPort(brokerPort)
        watcher = try Child("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(brokerPort)", "-u", "speaker", "-P", secret,
                                                       "-v", "-t", "speakd/#"])
        let passwordFile = directory.appendingPathComponent("mqtt-password")
        try Harness.writePrivately("\(secret)\n", to: passwordFile)
        let daemon = try startDaemon(config: """
            [mqtt]
            enabled = true
            host = "127.0.0.1"
            port = \(brokerPort)
            node = "locked"
            username = "speaker"
            password_file = "\(passwordFile.path)"
            """)
        _ = try waitFor("online") { $0 == "speakd/locked/availability online" }
        let log = daemon.stop().log
        self.daemon = nil
        XCTAssertFalse(log.contains(secret), "the MQTT password appears in the log")
    }

    /// A broker on a TLS listener whose certificate a test CA signed, refusing anonymous clients: speakd verifies it
    /// with the CA file, logs in, and what is published is spoken; the password appears in no log.
    func testTLSWithATestCAAndAPassword() throws {
        let certificates = try makeTestCertificates("broker")
        let secret = try startTLSBroker(certificates)
        let passwordFile = directory.appendingPathComponent("mqtt-password")
        try Harness.writePrivately("\(secret)\n", to: passwordFile)
        let daemon = try startDaemon(config: """
            [mqtt]
            enabled = true
            host = "localhost"
            port = \(brokerPort)
            node = "secure"
            username = "speaker"
            password_file = "\(passwordFile.path)"
            tls_ca_file = "\(certificates)-ca.pem"
            """)
        _ = try waitFor("online") { $0 == "speakd/secure/availability online" }
        let before = seen.count
        let published = try Child("/usr/bin/mosquitto_pub", ["-h", "localhost", "-p", "\(brokerPort)", "--cafile", "\(certificates)-ca.pem",
                                                             "-u", "speaker", "-P", secret, "-t", "speakd/secure/say", "-m", "Over TLS."]).finish()
        XCTAssertEqual(published.status, 0, published.stderr)
        let speaking = try waitFor("speaking", after: before) { $0.hasPrefix("speakd/secure/state ") && $0.contains(#""state":"speaking""#) }
        _ = try waitFor("idle", after: speaking) { $0.hasPrefix("speakd/secure/state ") && $0.contains(#""state":"idle""#) }
        let inputs = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["Over TLS."])
        XCTAssertGreaterThan(try XCTUnwrap(recorder).samples.rms, 50, "nothing was heard")
        let log = daemon.stop().log
        self.daemon = nil
        XCTAssertFalse(log.contains(secret), "the MQTT password appears in the log")
    }

    /// A broker whose certificate comes from a CA speakd was not given: speakd never connects (and never sends the
    /// password to it), and the Unix socket speaks meanwhile: a broker that cannot be reached blocks no other door.
    func testRefusesABrokerFromAnotherCAAndSpeaksOn() throws {
        let trusted = try makeTestCertificates("trusted")
        let other = try makeTestCertificates("other")
        let secret = try startTLSBroker(other)
        let passwordFile = directory.appendingPathComponent("mqtt-password")
        try Harness.writePrivately("\(secret)\n", to: passwordFile)
        let daemon = try startDaemon(config: """
            [mqtt]
            enabled = true
            host = "localhost"
            port = \(brokerPort)
            node = "wary"
            username = "speaker"
            password_file = "\(passwordFile.path)"
            tls_ca_file = "\(trusted)-ca.pem"
            """)
        let spoken = try daemon.speakctl(["--wait", "The socket still speaks."])
        XCTAssertEqual(spoken.status, 0, spoken.stderr)
        usleep(1_000_000)
        XCTAssertFalse(seen.contains { $0.hasPrefix("speakd/wary/") }, "speakd connected to a broker it cannot verify: \(seen)")
        let brokerLog = String(decoding: broker?.stderrSoFar ?? Data(), as: UTF8.self)
        XCTAssertFalse(brokerLog.contains("as speakd-wary"), "speakd logged in to an unverified broker: \(brokerLog)")
        XCTAssertTrue(brokerLog.contains("unknown ca"), "speakd did not try the broker and refuse its certificate: \(brokerLog)")
        XCTAssertFalse(daemon.stop().log.contains(secret))
        self.daemon = nil
    }

    /// Starts mosquitto with a TLS listener (the certificates at `prefix`) that wants user `speaker`; the watcher
    /// subscribes with that CA. Returns the password.
    private func startTLSBroker(_ prefix: String) throws -> String {
        brokerPort = Harness.unusedPort()
        let passwords = directory.appendingPathComponent("mosquitto.passwd").path
        let secret = "pw-tls-4e8d20b1"
        XCTAssertEqual(try Child("/usr/bin/mosquitto_passwd", ["-b", "-c", passwords, "speaker", secret]).finish().status, 0)
        let brokerConfig = directory.appendingPathComponent("mosquitto-tls.conf")
        // user root: mosquitto started as root otherwise drops to its own user, which cannot read the private key here.
        try """
            user root
            listener \(brokerPort) 127.0.0.1
            cafile \(prefix)-ca.pem
            certfile \(prefix)-server.pem
            keyfile \(prefix)-server.key
            allow_anonymous false
            password_file \(passwords)
            """.write(to: brokerConfig, atomically: true, encoding: .utf8)
        broker = try Child("/usr/sbin/mosquitto", ["-c", brokerConfig.path, "-v"])
        try waitForPort(brokerPort)
        watcher = try Child("/usr/bin/mosquitto_sub", ["-h", "localhost", "-p", "\(brokerPort)", "--cafile", "\(prefix)-ca.pem",
                                                       "-u", "speaker", "-P", secret, "-v", "-t", "speakd/#"])
        usleep(200_000)
        return secret
    }

    func testReconnectsAfterTheBrokerRestarts() throws {
        _ = try startAll()
        _ = try waitFor("online") { $0 == "speakd/testnode/availability online" }
        broker?.terminate()
        watcher = nil
        usleep(500_000)
        try startBroker()
        watcher = try Child("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(brokerPort)", "-v", "-t", "speakd/#"])
        _ = try waitFor("online again", timeout: 40) { $0 == "speakd/testnode/availability online" }
        let before = seen.count
        try publish("speakd/testnode/say", "After the restart.")
        _ = try waitFor("speaking", after: before) { $0.contains(#""state":"speaking""#) }
        let inputs = try XCTUnwrap(upstream).requests().compactMap { ($0.log["body"] as? [String: Any])?["input"] as? String }
        XCTAssertEqual(inputs, ["After the restart."])
    }
}

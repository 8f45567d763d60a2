import Foundation
import Logging
import SpeakdProtocol

/// The MQTT front door: speaks what is published on `…/say`, obeys `…/command`, publishes the node's state and
/// availability and Home Assistant's discovery configs. Requests go to the daemon's own handler
/// (`FrontDoorBackend`), so priorities and events are the Unix socket's. A lost broker only delays MQTT: the
/// library reconnects with backoff on its own thread, and no other door waits for it.
///
/// Threading: Sendable; `run` is called once and serves until its task is cancelled.
public final class MQTTFrontDoor: Sendable {
    public let configuration: MQTTConfiguration
    private let backend: any FrontDoorBackend
    private let logger: Logger
    private let version: String

    public init(configuration: MQTTConfiguration, backend: any FrontDoorBackend, logger: Logger, version: String = "speakd") {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        self.version = version
    }

    public func run() async {
        let client: MosquittoClient
        do {
            client = try MosquittoClient(clientID: "speakd-\(configuration.node)")
            try client.configure(configuration, will: (configuration.availabilityTopic, "offline"))
            try client.start(host: configuration.host, port: configuration.port, keepAlive: configuration.keepAliveSeconds)
        } catch {
            logger.error("MQTT front door off", metadata: ["error": "\(error)"])
            return
        }
        let connection = backend.newConnection()
        let (jobEvents, eventSink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(64))
        backend.register(connection, everyJob: true) { eventSink.yield($0) }
        defer { backend.unregister(connection) }
        let state = StatePublisher(client: client, topic: configuration.stateTopic, backend: backend)
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in jobEvents { await state.publish() }
                }
                for await incident in client.incidents {
                    if Task.isCancelled { break }
                    switch incident {
                    case .connected:
                        logger.info("MQTT connected", metadata: ["broker": "\(configuration.host):\(configuration.port)",
                                                                 "node": "\(configuration.node)"])
                        client.subscribe(configuration.sayTopic)
                        client.subscribe(configuration.commandTopic)
                        for (topic, payload) in Discovery.configs(configuration, version: version) {
                            client.publish(topic, payload, retain: true)
                        }
                        client.publish(configuration.availabilityTopic, Array("online".utf8), retain: true)
                        group.addTask { await state.publish(force: true) }
                    case .connectionRefused(let reason):
                        logger.warning("MQTT broker refused the connection; trying again", metadata: ["reason": "\(reason)"])
                    case .disconnected(let reason):
                        logger.warning("MQTT broker lost; reconnecting with backoff", metadata: ["reason": "\(reason)"])
                    case .message(let topic, let payload):
                        group.addTask { await self.obey(topic: topic, payload: payload, client: client) }
                    }
                }
                eventSink.finish()
            }
        } onCancel: {
            // A clean goodbye: the retained availability says offline (the will covers a crash).
            client.publish(configuration.availabilityTopic, Array("offline".utf8), retain: true)
            client.disconnect()
        }
    }

    private func obey(topic: String, payload: [UInt8], client: MosquittoClient) async {
        let origin = "mqtt \(topic)"
        let reply: Reply
        if topic == configuration.sayTopic {
            switch MQTTPayload.speakFields(payload) {
            case .success(let fields):
                reply = await backend.speak(fields, wait: false, origin: origin).0
            case .failure(let error):
                reportError(error, client: client)
                return
            }
        } else {
            switch MQTTPayload.command(payload) {
            case .success(let command):
                reply = await backend.handle(op: command, connection: backend.newConnection(), origin: origin)
            case .failure(let error):
                reportError(error, client: client)
                return
            }
        }
        if let error = reply.error { reportError(error, client: client) }
    }

    /// A refused message is logged and published on `…/error` (not retained), where its sender can see why.
    private func reportError(_ error: ProtocolError, client: MosquittoClient) {
        logger.warning("MQTT request refused", metadata: ["error": "\(error.message)"])
        var payload = WireCodec.encodeLine(error)
        payload.removeLast()
        client.publish("\(configuration.base)/error", payload, retain: false)
    }
}

/// Publishes `{"state":"idle"|"speaking"|"paused","job":…,"queued":N}` (retained) when it changes.
///
/// Threading: an actor: job events and reconnects call it from different tasks.
actor StatePublisher {
    private let client: MosquittoClient
    private let topic: String
    private let backend: any FrontDoorBackend
    private var last: [UInt8] = []

    init(client: MosquittoClient, topic: String, backend: any FrontDoorBackend) {
        self.client = client
        self.topic = topic
        self.backend = backend
    }

    func publish(force: Bool = false) async {
        let reply = await backend.handle(op: "status", connection: backend.newConnection(), origin: "mqtt state")
        guard let status = reply.status else { return }
        let speaking = status.currentJob != nil && status.position != nil
        var fields: [String: JSONValue] = [
            "state": .string(status.paused && status.currentJob != nil ? "paused" : speaking ? "speaking" : "idle"),
            "queued": .number(Double(status.queued)),
        ]
        if let job = status.currentJob, speaking || status.paused { fields["job"] = .string(job) }
        var payload = WireCodec.encodeLine(JSONValue.object(fields))
        payload.removeLast()
        guard force || payload != last else { return }
        last = payload
        client.publish(topic, payload, retain: true)
    }
}

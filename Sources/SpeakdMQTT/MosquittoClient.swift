import CMosquitto

/// libmosquitto's success code, as its functions return it.
private let success = Int32(MOSQ_ERR_SUCCESS.rawValue)

/// libmosquitto's threaded client: its own network thread connects, reconnects with exponential backoff and
/// calls back; the callbacks only enqueue `Incident`s, so nothing speakd does waits for the broker.
///
/// Threading: `@unchecked Sendable` because libmosquitto's publish, subscribe and disconnect are thread-safe once
/// `mosquitto_loop_start` runs (the library locks its own state); `incidents` is consumed by one task.
final class MosquittoClient: @unchecked Sendable {
    enum Incident: Sendable {
        case connected
        case connectionRefused(String)
        case disconnected(String)
        case message(topic: String, payload: [UInt8])
    }

    let incidents: AsyncStream<Incident>
    private let sink: AsyncStream<Incident>.Continuation
    private let handle: OpaquePointer

    private static let initialized: Bool = { mosquitto_lib_init() == success }()

    init(clientID: String) throws(MQTTError) {
        guard Self.initialized, let handle = mosquitto_new(clientID, true, nil) else {
            throw MQTTError("cannot create an MQTT client (libmosquitto)")
        }
        self.handle = handle
        (incidents, sink) = AsyncStream.makeStream(of: Incident.self, bufferingPolicy: .bufferingNewest(1_024))
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(handle) { _, object, code in
            let client = Unmanaged<MosquittoClient>.fromOpaque(object!).takeUnretainedValue()
            client.sink.yield(code == 0 ? .connected : .connectionRefused(String(cString: mosquitto_connack_string(code))))
        }
        mosquitto_disconnect_callback_set(handle) { _, object, code in
            let client = Unmanaged<MosquittoClient>.fromOpaque(object!).takeUnretainedValue()
            client.sink.yield(.disconnected(String(cString: mosquitto_strerror(code))))
        }
        mosquitto_message_callback_set(handle) { _, object, message in
            guard let object, let message = message?.pointee, let topic = message.topic else { return }
            let client = Unmanaged<MosquittoClient>.fromOpaque(object).takeUnretainedValue()
            let payload = message.payload.map {
                Array(UnsafeRawBufferPointer(start: $0, count: Int(message.payloadlen)))
            } ?? []
            client.sink.yield(.message(topic: String(cString: topic), payload: payload))
        }
    }

    deinit {
        mosquitto_loop_stop(handle, true)
        mosquitto_destroy(handle)
        sink.finish()
    }

    func configure(_ configuration: MQTTConfiguration, will: (topic: String, payload: String)) throws(MQTTError) {
        if let username = configuration.username {
            try check(mosquitto_username_pw_set(handle, username, configuration.password), "set the username")
        }
        if let caFile = configuration.caFile {
            try check(mosquitto_tls_set(handle, caFile, nil, nil, nil, nil), "use the CA file \(caFile)")
        }
        try check(mosquitto_will_set(handle, will.topic, Int32(will.payload.utf8.count), will.payload, 1, true), "set the last will")
        let delays = configuration.reconnectDelaySeconds
        try check(mosquitto_reconnect_delay_set(handle, UInt32(delays.lowerBound), UInt32(delays.upperBound), true),
                  "set the reconnection delays")
    }

    /// Starts the network thread and the first connection attempt; a broker that is down now is retried with the
    /// backoff, like a lost one.
    func start(host: String, port: Int, keepAlive: Int) throws(MQTTError) {
        try check(mosquitto_loop_start(handle), "start the MQTT thread")
        let code = mosquitto_connect_async(handle, host, Int32(port), Int32(keepAlive))
        if code != success {
            // The thread retries; report why the first attempt failed.
            sink.yield(.disconnected(String(cString: mosquitto_strerror(code))))
        }
    }

    func publish(_ topic: String, _ payload: [UInt8], retain: Bool) {
        _ = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, nil, topic, Int32(bytes.count), bytes.baseAddress, 1, retain)
        }
    }

    func subscribe(_ topic: String) {
        _ = mosquitto_subscribe(handle, nil, topic, 1)
    }

    func disconnect() {
        _ = mosquitto_disconnect(handle)
    }

    private func check(_ code: Int32, _ what: String) throws(MQTTError) {
        guard code == success else {
            throw MQTTError("cannot \(what): \(String(cString: mosquitto_strerror(code)))")
        }
    }
}

/// An MQTT set-up problem, named for the user (never with the password).
public struct MQTTError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

import SpeakdProtocol

/// Home Assistant's MQTT discovery: the configs that make a speakd node appear as a device with a `notify` entity
/// (speak a message), a state sensor and a stop button. Published retained, so Home Assistant finds them whenever
/// it starts.
///
/// Threading: stateless; call from anywhere.
public enum Discovery {
    /// (topic, JSON payload) of each entity's config.
    public static func configs(_ configuration: MQTTConfiguration, version: String) -> [(topic: String, payload: [UInt8])] {
        let node = configuration.node
        let id = "speakd_\(node)"
        let device: JSONValue = .object([
            "identifiers": .array([.string(id)]), "name": .string("speakd \(node)"), "manufacturer": .string("speakd"),
            "model": .string("speakd text-to-speech"), "sw_version": .string(version),
        ])
        func entity(_ component: String, _ object: String, _ fields: [String: JSONValue]) -> (topic: String, payload: [UInt8]) {
            var config = fields
            config["unique_id"] = .string("\(id)_\(object)")
            config["object_id"] = .string("\(id)_\(object)")
            config["availability_topic"] = .string(configuration.availabilityTopic)
            config["device"] = device
            var payload = WireCodec.encodeLine(JSONValue.object(config))
            payload.removeLast()
            return ("\(configuration.discoveryPrefix)/\(component)/\(id)/\(object)/config", payload)
        }
        return [
            entity("notify", "say", ["name": .string("Say"), "command_topic": .string(configuration.sayTopic)]),
            entity("sensor", "state", ["name": .string("State"), "state_topic": .string(configuration.stateTopic),
                                        "value_template": .string("{{ value_json.state }}"),
                                        "json_attributes_topic": .string(configuration.stateTopic),
                                        "icon": .string("mdi:account-voice")]),
            entity("button", "stop", ["name": .string("Stop"), "command_topic": .string(configuration.commandTopic),
                                       "payload_press": .string("stop"), "icon": .string("mdi:stop")]),
        ]
    }
}

import SpeakdHTTP
import SpeakdMQTT

extension ResolvedSettings {
    /// `[http]` and `[mqtt]` as `speakd --check-config` prints them: what each door will serve, with the tokens
    /// counted and the password masked (never shown), each value's source in a comment.
    func describeFrontDoors(line: (String, String, String?) -> Void, comment: (String) -> Void) {
        let doors = options.frontDoors
        comment("")
        comment("[http]")
        if let http = doors.http {
            line("enabled", "true", sources["http.enabled"])
            line("address", quoted(http.host), sources["http.address"])
            line("port", "\(http.port)", sources["http.port"])
            if http.tokens.isEmpty {
                comment("# tokens: none (loopback only; every local user may speak)")
            } else {
                comment("# tokens: \(http.tokens.count) from \(sources["http.tokens"] ?? "?") (never shown)")
            }
            line("max_body_bytes", "\(http.maxBodyBytes)", sources["http.max_body_bytes"])
            line("max_connections", "\(http.maxConnections)", sources["http.max_connections"])
            line("rate_limit", "\(Int(http.requestsPerSecond))", sources["http.rate_limit"])
            line("rate_burst", "\(http.burst)", sources["http.rate_burst"])
            if let certificate = http.certificateFile, let key = http.keyFile {
                line("tls_certificate", quoted(certificate), sources["http.tls_certificate"])
                line("tls_key", quoted(key), sources["http.tls_key"])
            } else {
                comment("# TLS: off (plain HTTP)")
            }
        } else {
            line("enabled", "false", sources["http.enabled"])
        }
        comment("")
        comment("[mqtt]")
        if let mqtt = doors.mqtt {
            line("enabled", "true", sources["mqtt.enabled"])
            line("host", quoted(mqtt.host), sources["mqtt.host"])
            line("port", "\(mqtt.port)", sources["mqtt.port"])
            line("node", quoted(mqtt.node), sources["mqtt.node"] ?? "default (the host name)")
            if let username = mqtt.username { line("username", quoted(username), sources["mqtt.username"]) }
            if let password = mqtt.password {
                comment("# password: \(Self.mask(password)) from \(sources["mqtt.password"] ?? "?")")
            }
            if let caFile = mqtt.caFile {
                line("tls_ca_file", quoted(caFile), sources["mqtt.tls_ca_file"])
            } else {
                comment("# TLS: off (plain MQTT)")
            }
            line("topic_prefix", quoted(mqtt.topicPrefix), sources["mqtt.topic_prefix"])
            line("discovery_prefix", quoted(mqtt.discoveryPrefix), sources["mqtt.discovery_prefix"])
        } else {
            line("enabled", "false", sources["mqtt.enabled"])
        }
    }
}

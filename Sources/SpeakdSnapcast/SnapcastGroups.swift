import Foundation

/// One of snapserver's groups as `Server.GetStatus` lists it: the unit a stream is chosen for (every client is in
/// exactly one group; a client that connects for the first time gets a group of its own).
///
/// Threading: a value type; Sendable.
public struct SnapcastGroup: Sendable, Equatable {
    public struct Client: Sendable, Equatable {
        /// The client's id: its `--hostID` (the MAC address by default), with `#INSTANCE` appended for an instance
        /// other than 1 (`snapclient -i 2 --hostID room2` is `room2#2`).
        public var id: String
        /// The client machine's host name (`host.name`); several clients on one machine share it.
        public var hostName: String
        /// The name set for the client through the API or a web UI (`config.name`); empty until set.
        public var configuredName: String
    }

    public var id: String
    /// Empty until set through the API.
    public var name: String
    public var streamID: String
    public var clients: [Client]

    /// Whether `selector` names this group: its id or name, or one of its clients by id, host id (the id without
    /// `#INSTANCE`), host name or configured name. Snapcast switches whole groups, so naming one client switches
    /// everything grouped with it.
    public func isNamed(by selector: String) -> Bool {
        guard !selector.isEmpty else { return false }
        if id == selector || name == selector { return true }
        return clients.contains { client in
            client.id == selector || client.hostName == selector || client.configuredName == selector
                || client.id.split(separator: "#", maxSplits: 1).first.map(String.init) == selector
        }
    }
}

extension SnapcastRPCClient {
    /// `Server.GetStatus`: every group with its stream and clients.
    public func groups() throws(SnapcastRPCError) -> [SnapcastGroup] {
        let result = try call("Server.GetStatus")
        guard let server = (result as? [String: Any])?["server"] as? [String: Any],
              let groups = server["groups"] as? [[String: Any]] else {
            throw SnapcastRPCError("Server.GetStatus: the answer has no server.groups")
        }
        var parsed: [SnapcastGroup] = []
        for group in groups {
            guard let id = group["id"] as? String, let stream = group["stream_id"] as? String else {
                throw SnapcastRPCError("Server.GetStatus: a group without id or stream_id")
            }
            let clients = (group["clients"] as? [[String: Any]] ?? []).map { client in
                SnapcastGroup.Client(id: client["id"] as? String ?? "",
                                     hostName: (client["host"] as? [String: Any])?["name"] as? String ?? "",
                                     configuredName: (client["config"] as? [String: Any])?["name"] as? String ?? "")
            }
            parsed.append(SnapcastGroup(id: id, name: group["name"] as? String ?? "", streamID: stream, clients: clients))
        }
        return parsed
    }

    /// `Group.SetStream`: switches group `id` to stream `streamID` (snapserver answers with an error object for an
    /// unknown group or stream).
    public func setStream(group id: String, to streamID: String) throws(SnapcastRPCError) {
        _ = try call("Group.SetStream", params: ["id": id, "stream_id": streamID])
    }
}

import SpeakdProtocol
import SpeakdSynthesis

/// Reads typed keys out of one table, remembering which were read so unknown ones (typos) are refused by line.
struct TableReader {
    let path: String
    let table: [String: TOMLDocument.Entry]
    let name: String
    let line: Int
    private var read: Set<String> = []

    init(path: String, table: [String: TOMLDocument.Entry], name: String, line: Int = 1) {
        self.path = path
        self.table = table
        self.name = name
        self.line = line
    }

    var keysInLineOrder: [String] { table.sorted { $0.value.line < $1.value.line }.map(\.key) }

    func lineOf(_ key: String) -> Int { table[key]?.line ?? line }

    private func invalid(_ key: String, _ reason: String) -> ConfigurationFile.Invalid {
        .init(path: path, line: lineOf(key), reason: reason)
    }

    mutating func string(_ key: String) throws(ConfigurationFile.Invalid) -> String? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .string(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be a string, not \(entry.value.typeName)") }
        return value
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationFile.Invalid) -> Int? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .integer(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be an integer, not \(entry.value.typeName)") }
        guard range.contains(value) else { throw invalid(key, "\(key) must be between \(range.lowerBound) and \(range.upperBound), not \(value)") }
        return value
    }

    mutating func bool(_ key: String) throws(ConfigurationFile.Invalid) -> Bool? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .bool(let value) = entry.value else { throw invalid(key, "\(key) in \(name) must be true or false, not \(entry.value.typeName)") }
        return value
    }

    mutating func integers(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationFile.Invalid) -> [Int]? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .array(let values) = entry.value else { throw invalid(key, "\(key) in \(name) must be an array of integers, not \(entry.value.typeName)") }
        var result: [Int] = []
        for value in values {
            guard case .integer(let number) = value, range.contains(number) else {
                throw invalid(key, "\(key) must hold integers between \(range.lowerBound) and \(range.upperBound)")
            }
            result.append(number)
        }
        return result
    }

    /// `[lo, hi]`, numbers within the contract's 0.25–4.0 with lo ≤ hi.
    mutating func speedRange(_ key: String) throws(ConfigurationFile.Invalid) -> ClosedRange<Double>? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        let contract = UpstreamSpeed.contractRange
        let reason = "\(key) in \(name) must be [lowest, highest], two numbers between \(contract.lowerBound) and \(contract.upperBound) (e.g. [1.0, 2.0]; [1.0, 1.0] for a server that ignores speed)"
        guard case .array(let values) = entry.value, values.count == 2 else { throw invalid(key, reason) }
        var numbers: [Double] = []
        for value in values {
            switch value {
            case .integer(let number): numbers.append(Double(number))
            case .float(let number): numbers.append(number)
            default: throw invalid(key, reason)
            }
        }
        guard numbers[0] <= numbers[1], contract.contains(numbers[0]), contract.contains(numbers[1]) else { throw invalid(key, reason) }
        return numbers[0]...numbers[1]
    }

    mutating func table(_ key: String) throws(ConfigurationFile.Invalid) -> TableReader? {
        read.insert(key)
        guard let entry = table[key] else { return nil }
        guard case .table(let child) = entry.value else { throw invalid(key, "\(key) must be a table ([\(key)]), not \(entry.value.typeName)") }
        let childName = name == "the top level" ? "[\(key)]" : "[\(name.dropFirst().dropLast()).\(key)]"
        return TableReader(path: path, table: child, name: childName, line: entry.line)
    }

    // The settings of `SettingsTable`: key and range from the row.

    mutating func string<Value>(_ setting: Setting<Value>) throws(ConfigurationFile.Invalid) -> String? {
        guard let value = try string(setting.key) else { return nil }
        if let reason = setting.refusal(value, spelled: setting.key) { throw invalid(setting.key, reason) }
        return value
    }

    mutating func integer<Value>(_ setting: Setting<Value>) throws(ConfigurationFile.Invalid) -> Int? {
        try integer(setting.key, in: setting.range ?? Int.min...Int.max)
    }

    mutating func integers<Value>(_ setting: Setting<Value>) throws(ConfigurationFile.Invalid) -> [Int]? {
        try integers(setting.key, in: setting.range ?? Int.min...Int.max)
    }

    mutating func bool<Value>(_ setting: Setting<Value>) throws(ConfigurationFile.Invalid) -> Bool? { try bool(setting.key) }

    mutating func speedRange<Value>(_ setting: Setting<Value>) throws(ConfigurationFile.Invalid) -> ClosedRange<Double>? {
        try speedRange(setting.key)
    }

    /// One string per priority (`[chimes]`, `[media_roles]`): the rows given, keyed by their priority.
    mutating func strings(_ rows: [(JobPriority, Setting<String?>)]) throws(ConfigurationFile.Invalid) -> [JobPriority: String] {
        var values: [JobPriority: String] = [:]
        for (priority, setting) in rows {
            if let value = try string(setting) { values[priority] = value }
        }
        return values
    }

    func lineOf<Value>(_ setting: Setting<Value>) -> Int { lineOf(setting.key) }

    func jsonObject() throws(ConfigurationFile.Invalid) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for (key, entry) in table { object[key] = try json(entry.value, key: key) }
        return object
    }

    private func json(_ value: TOMLDocument.Value, key: String) throws(ConfigurationFile.Invalid) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .integer(let number): return .number(Double(number))
        case .float(let number): return .number(number)
        case .bool(let flag): return .bool(flag)
        case .array(let items):
            var converted: [JSONValue] = []
            for item in items { converted.append(try json(item, key: key)) }
            return .array(converted)
        case .table(let child):
            return .object(try TableReader(path: path, table: child, name: key).jsonObject())
        }
    }

    func rejectUnknown() throws(ConfigurationFile.Invalid) {
        if let (key, entry) = table.filter({ !read.contains($0.key) }).min(by: { $0.value.line < $1.value.line }) {
            let known = read.sorted().joined(separator: ", ")
            throw ConfigurationFile.Invalid(path: path, line: entry.line, reason: "unknown key \"\(key)\" in \(name) (known: \(known))")
        }
    }
}

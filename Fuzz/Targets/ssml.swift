// libFuzzer target: the SSML speech-dispatcher sends to the module (SSMLReader).
// Properties: never crashes; what it accepts has no empty mark name and no empty text run; and a document written
// from text runs and marks (escaped as speech-dispatcher escapes them) reads back to those runs and marks.

@_cdecl("LLVMFuzzerTestOneInput")
public func ssmlFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    if input.byte() % 2 == 0 {
        checkSSMLDocument(String(decoding: input.rest(), as: UTF8.self))
    } else {
        checkSSMLRoundTrip(&input)
    }
    return 0
}

func checkSSMLDocument(_ ssml: String) {
    guard let items = SSMLReader.read(ssml) else { return }
    for item in items {
        switch item {
        case .mark(let name): fuzzCheck(!name.isEmpty, "a mark without a name was accepted")
        case .text(let text): fuzzCheck(!text.isEmpty, "an empty text run")
        }
    }
}

func checkSSMLRoundTrip(_ input: inout FuzzInput) {
    var items: [SSMLReader.Item] = []
    while !input.isAtEnd {
        let length = input.below(24)
        let text = String(decoding: input.take(length), as: UTF8.self)
        if input.byte() % 3 == 0 {
            if !text.isEmpty { items.append(.mark(text)) }
        } else if !text.isEmpty {
            items.append(.text(text))
        }
    }
    var document = "<speak>"
    var expected: [SSMLReader.Item] = []
    for item in items {
        switch item {
        case .text(let text):
            document += ssmlEscaped(text, attribute: false)
            if case .text(let previous)? = expected.last { expected[expected.count - 1] = .text(previous + text) } else { expected.append(item) }
        case .mark(let name):
            document += "<mark name=\"" + ssmlEscaped(name, attribute: true) + "\"/>"
            expected.append(item)
        }
    }
    document += "</speak>"
    // A block element's end separates words: a text run that ends in a letter gets a space.
    if case .text(let last)? = expected.last, let scalar = last.unicodeScalars.last, !scalar.properties.isWhitespace {
        expected[expected.count - 1] = .text(last + " ")
    }
    guard let read = SSMLReader.read(document) else { fuzzFail("a well-formed document was refused: \(document.debugDescription)") }
    fuzzCheck(read.map(ssmlScalars) == expected.map(ssmlScalars),
              "read \(read) from \(document.debugDescription), expected \(expected)")
}

/// Items compared scalar by scalar (String's == would equate canonically equivalent text).
func ssmlScalars(_ item: SSMLReader.Item) -> [UInt32] {
    switch item {
    case .text(let text): [0] + text.unicodeScalars.map(\.value)
    case .mark(let name): [1] + name.unicodeScalars.map(\.value)
    }
}

func ssmlEscaped(_ text: String, attribute: Bool) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"" where attribute: out += "&quot;"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

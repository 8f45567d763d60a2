/// An ID3v2.4 tag built by hand (lame's id3tag_* API writes ID3v2.3 with Latin-1 or UTF-16 and adds frames of its
/// own): UTF-8 text frames, which ffprobe, players and taggers read.
///
/// TITLE → TIT2, DATE → TDRC, anything else → TXXX with the field name as description (ffprobe shows it as a tag of
/// that name).
///
/// Threading: pure functions over values.
enum ID3v2Tag {
    static func bytes(for tags: Tags) -> [UInt8] {
        let fields = tags.fields
        guard !fields.isEmpty else { return [] }
        var frames: [UInt8] = []
        for (name, value) in fields {
            switch name {
            case "TITLE": frames += frame("TIT2", text: Array(value.utf8))
            case "DATE": frames += frame("TDRC", text: Array(value.utf8))
            default: frames += frame("TXXX", text: Array(name.utf8) + [0] + Array(value.utf8))
            }
        }
        // Header: "ID3", version 4.0, no flags, size of everything after the header as a synchsafe integer.
        return Array("ID3".utf8) + [4, 0, 0] + synchsafe(frames.count) + frames
    }

    /// A text frame: id, synchsafe size, no flags, then encoding 3 (UTF-8) and the text.
    private static func frame(_ id: String, text: [UInt8]) -> [UInt8] {
        let body: [UInt8] = [3] + text
        return Array(id.utf8) + synchsafe(body.count) + [0, 0] + body
    }

    /// 28 bits in four bytes of seven, so no byte of a size looks like an MPEG sync word.
    private static func synchsafe(_ value: Int) -> [UInt8] {
        precondition(value < 1 << 28, "ID3v2 tag larger than 256 MiB")
        return [UInt8(value >> 21 & 0x7F), UInt8(value >> 14 & 0x7F), UInt8(value >> 7 & 0x7F), UInt8(value & 0x7F)]
    }
}

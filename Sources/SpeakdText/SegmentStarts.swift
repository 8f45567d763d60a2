/// Threading: pure functions of their arguments.
extension TextSegmenter {
    /// Where each segment starts in `text`, in Unicode scalars: segments are `text`'s pieces in order, trimmed.
    public static func starts(of segments: [String], in text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var starts: [Int] = []
        var cursor = 0
        for segment in segments {
            let wanted = Array(segment.unicodeScalars)
            var found = cursor
            while found + wanted.count <= scalars.count, !scalars[found..<(found + wanted.count)].elementsEqual(wanted) {
                found += 1
            }
            if found + wanted.count > scalars.count { found = cursor }   // not a plain substring: keep the order
            starts.append(found)
            cursor = found + wanted.count
        }
        return starts
    }
}

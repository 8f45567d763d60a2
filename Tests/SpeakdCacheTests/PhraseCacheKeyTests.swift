import XCTest
import SpeakdSynthesis
@testable import SpeakdCache

final class PhraseCacheKeyTests: XCTestCase {
    private let base = SynthesisRequest(input: "The front door is open.", voice: "nova", model: "gpt-4o-mini-tts",
                                        instructions: "calm", speed: 1.0)

    private func key(_ request: SynthesisRequest, upstream: String = "http://tts.lan/v1", rate: Int? = nil) -> PhraseCacheKey {
        PhraseCacheKey(upstream: upstream, sampleRateOverride: rate, request: request)
    }

    func testTheSameRequestGivesTheSameKey() {
        XCTAssertEqual(key(base), key(base))
        XCTAssertEqual(key(base).digest.count, 64)
    }

    /// Everything that shapes the audio is in the key; each change misses.
    func testEveryFieldThatShapesTheAudioChangesTheKey() {
        var variants: [SynthesisRequest] = []
        var changed = base; changed.input = "The front door is open!"; variants.append(changed)
        changed = base; changed.voice = "alloy"; variants.append(changed)
        changed = base; changed.model = "tts-1"; variants.append(changed)
        changed = base; changed.instructions = nil; variants.append(changed)
        changed = base; changed.instructions = "cheerful"; variants.append(changed)
        changed = base; changed.speed = 1.25; variants.append(changed)
        changed = base; changed.speed = nil; variants.append(changed)
        var keys = Set(variants.map { key($0) })
        keys.insert(key(base, upstream: "https://api.openai.com/v1"))
        keys.insert(key(base, rate: 22_050))
        keys.insert(key(base))
        XCTAssertEqual(keys.count, variants.count + 3)
    }

    /// Length prefixes: moving text from one field to the next never gives the same key.
    func testFieldBoundariesCannotBeForged() {
        let first = SynthesisRequest(input: "a", voice: "bc", model: "m")
        let second = SynthesisRequest(input: "ab", voice: "c", model: "m")
        XCTAssertNotEqual(key(first), key(second))
        let emptyInstructions = SynthesisRequest(input: "a", voice: "v", model: "m", instructions: "")
        let noInstructions = SynthesisRequest(input: "a", voice: "v", model: "m", instructions: nil)
        XCTAssertNotEqual(key(emptyInstructions), key(noInstructions))
    }

    func testDigestsReadBackOnlyWhenWellFormed() {
        XCTAssertNotNil(PhraseCacheKey(digest: key(base).digest))
        XCTAssertNil(PhraseCacheKey(digest: "xyz"))
        XCTAssertNil(PhraseCacheKey(digest: String(repeating: "G", count: 64)))
    }

    /// A channels override shapes the audio (raw PCM taken as stereo) and is keyed; unset, keys are as before it.
    func testAChannelsOverrideIsKeyedOnlyWhenSet() {
        XCTAssertEqual(PhraseCacheKey(upstream: "http://tts.lan/v1", sampleRateOverride: nil, channelsOverride: nil, request: base), key(base))
        XCTAssertNotEqual(PhraseCacheKey(upstream: "http://tts.lan/v1", sampleRateOverride: nil, channelsOverride: 2, request: base), key(base))
    }
}

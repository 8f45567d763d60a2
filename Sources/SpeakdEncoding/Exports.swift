// Sinks, atomic files and format names live in SpeakdSinks (no C libraries: speakctl links it alone).
@_exported import SpeakdSinks

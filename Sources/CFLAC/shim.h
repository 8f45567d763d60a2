// libFLAC's stream encoder and the metadata objects for the Vorbis comment block.
#include <FLAC/stream_encoder.h>
#include <FLAC/metadata.h>

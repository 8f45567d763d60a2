// libFLAC's stream encoder and decoder, and the metadata objects for the Vorbis comment block.
#include <FLAC/stream_encoder.h>
#include <FLAC/stream_decoder.h>
#include <FLAC/metadata.h>

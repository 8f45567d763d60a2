// libopusenc (Ogg Opus writer over libopus); pkg-config libopusenc adds -I/usr/include/opus.
#include <opusenc.h>

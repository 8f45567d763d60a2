// libsndfile: reads WAV, FLAC, Ogg Vorbis/Opus, AIFF and more into samples; what speakd uses for chime files.
#include <sndfile.h>

// libebur128: EBU R 128 loudness (integrated, short-term, momentary) and true peak, what ffmpeg and MPD's
// ReplayGain scanner use.
#include <ebur128.h>

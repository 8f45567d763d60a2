// libsoxr: streaming sample-rate conversion (what MPD and PulseAudio resample with).
#include <soxr.h>

// C shims for the encoders, for what Swift cannot call directly. Each function says why it exists. Kept apart from
// CSpeakdShim so that libopus and friends stay off the audio path's link line.
#pragma once
#include <opusenc.h>

// ope_encoder_ctl is variadic and its requests are macros (OPUS_SET_BITRATE(x) expands to a request code plus a
// type-checked argument); Swift imports neither. One typed function per request we use.
// Each returns OPE_OK or a negative OPE_/OPUS_ error code.
int speakd_ope_set_bitrate(OggOpusEnc *enc, opus_int32 bits_per_second);
int speakd_ope_set_complexity(OggOpusEnc *enc, opus_int32 complexity);

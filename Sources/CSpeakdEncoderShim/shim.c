#include "include/encoder_shim.h"

int speakd_ope_set_bitrate(OggOpusEnc *enc, opus_int32 bits_per_second) {
    return ope_encoder_ctl(enc, OPUS_SET_BITRATE(bits_per_second));
}

int speakd_ope_set_complexity(OggOpusEnc *enc, opus_int32 complexity) {
    return ope_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
}

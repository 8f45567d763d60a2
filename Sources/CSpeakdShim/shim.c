#define _GNU_SOURCE
#include <pthread.h>
#include <sys/eventfd.h>
#include "include/shim.h"

static void speakd_quiet_alsa_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

void speakd_alsa_silence_errors(void) {
    snd_lib_error_set_handler(speakd_quiet_alsa_error);
}

#define SPEAKD_STEP(call, name) do { int _rc = (call); if (_rc < 0) { *failed_step = (name); return _rc; } } while (0)

int speakd_alsa_configure(snd_pcm_t *pcm, unsigned int rate, unsigned int channels,
                          unsigned int period_us, unsigned int buffer_us,
                          snd_pcm_uframes_t *period_frames, snd_pcm_uframes_t *buffer_frames,
                          const char **failed_step) {
    snd_pcm_hw_params_t *hw;
    snd_pcm_sw_params_t *sw;
    snd_pcm_hw_params_alloca(&hw);
    snd_pcm_sw_params_alloca(&sw);
    unsigned int exact_rate = rate;
    int dir = 0;

    SPEAKD_STEP(snd_pcm_hw_params_any(pcm, hw), "hw_params_any");
    SPEAKD_STEP(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "set_access");
    SPEAKD_STEP(snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE), "set_format S16_LE");
    SPEAKD_STEP(snd_pcm_hw_params_set_channels(pcm, hw, channels), "set_channels");
    // Exact rate, with ALSA's resampling plugin allowed: the device plays our samples at their true speed.
    SPEAKD_STEP(snd_pcm_hw_params_set_rate_resample(pcm, hw, 1), "set_rate_resample");
    SPEAKD_STEP(snd_pcm_hw_params_set_rate_near(pcm, hw, &exact_rate, &dir), "set_rate");
    if (exact_rate != rate) { *failed_step = "set_rate (device cannot play this rate)"; return -EINVAL; }
    unsigned int buffer_time = buffer_us, period_time = period_us;
    dir = 0;
    SPEAKD_STEP(snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &buffer_time, &dir), "set_buffer_time");
    dir = 0;
    SPEAKD_STEP(snd_pcm_hw_params_set_period_time_near(pcm, hw, &period_time, &dir), "set_period_time");
    SPEAKD_STEP(snd_pcm_hw_params(pcm, hw), "hw_params");
    SPEAKD_STEP(snd_pcm_hw_params_get_period_size(hw, period_frames, &dir), "get_period_size");
    SPEAKD_STEP(snd_pcm_hw_params_get_buffer_size(hw, buffer_frames), "get_buffer_size");

    SPEAKD_STEP(snd_pcm_sw_params_current(pcm, sw), "sw_params_current");
    // Start as soon as one period is queued: the lowest latency that still gives the device something to chew on.
    // A stream shorter than a period is started explicitly by the audio thread.
    SPEAKD_STEP(snd_pcm_sw_params_set_start_threshold(pcm, sw, *period_frames), "set_start_threshold");
    SPEAKD_STEP(snd_pcm_sw_params_set_avail_min(pcm, sw, *period_frames), "set_avail_min");
    SPEAKD_STEP(snd_pcm_sw_params(pcm, sw), "sw_params");
    return 0;
}

int speakd_eventfd(int nonblocking) {
    return eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
}

int speakd_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

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

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_long speakd_demotions;
static atomic_int speakd_audio_tid;

static void speakd_on_sigxcpu(int signo) {
    (void)signo;
    int saved = errno;
    struct sched_param normal = { .sched_priority = 0 };
    sched_setscheduler(0, SCHED_OTHER, &normal);
    int tid = atomic_load(&speakd_audio_tid);
    if (tid > 0) sched_setscheduler(tid, SCHED_OTHER, &normal);
    atomic_fetch_add(&speakd_demotions, 1);
    errno = saved;
}

int speakd_realtime_guard_install(long limit_us) {
    struct sigaction action = { 0 };
    action.sa_handler = speakd_on_sigxcpu;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGXCPU, &action, NULL) != 0) return errno;
    struct rlimit limit;
    if (getrlimit(RLIMIT_RTTIME, &limit) != 0) return errno;
    rlim_t wanted = (rlim_t)limit_us;
    // Past the hard limit the kernel sends SIGKILL: keep the soft one below it so SIGXCPU comes first.
    if (limit.rlim_max != RLIM_INFINITY && wanted >= limit.rlim_max) wanted = limit.rlim_max / 2;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) return 0;
    limit.rlim_cur = wanted;
    if (setrlimit(RLIMIT_RTTIME, &limit) != 0) return errno;
    return 0;
}

void speakd_realtime_guard_register_thread(void) {
    atomic_store(&speakd_audio_tid, (int)syscall(SYS_gettid));
    // A thread started from a libdispatch worker inherits its mask, which blocks most signals: this one must arrive.
    sigset_t xcpu;
    sigemptyset(&xcpu);
    sigaddset(&xcpu, SIGXCPU);
    pthread_sigmask(SIG_UNBLOCK, &xcpu, NULL);
}

long speakd_realtime_guard_demotions(void) {
    return atomic_load(&speakd_demotions);
}

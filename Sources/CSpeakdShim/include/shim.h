// Small C shims for what Swift cannot call directly. Each function says why it exists.
#pragma once
#include <alsa/asoundlib.h>

// snd_lib_error_set_handler takes a variadic callback, which Swift cannot implement. Without a handler, alsa-lib
// prints its own diagnostics to stderr (e.g. "cannot find card '0'") in the middle of the daemon's log; every error
// it reports there is also returned to us as a code, which we log properly.
void speakd_alsa_silence_errors(void);

// snd_pcm_hw_params_alloca / snd_pcm_sw_params_alloca are macros over alloca; these are the same setup sequences,
// done in C so the parameter structs live on the C stack and no Swift wrapper is needed.
// Returns 0 or a negative ALSA error code; on success *period_frames and *buffer_frames hold what the device chose.
int speakd_alsa_configure(snd_pcm_t *pcm, unsigned int rate, unsigned int channels,
                          unsigned int period_us, unsigned int buffer_us,
                          snd_pcm_uframes_t *period_frames, snd_pcm_uframes_t *buffer_frames,
                          const char **failed_step);

// <sys/eventfd.h> is not part of the Glibc module Swift imports. The audio thread's wake-up bell.
int speakd_eventfd(int nonblocking);

// pthread_setname_np is declared only under _GNU_SOURCE, which Swift's Glibc module does not define. Named threads
// show up in top -H, perf and gdb ("speakd-audio").
int speakd_set_thread_name(const char *name);

// A real-time thread that never sleeps would take a core from everything else, for ever. The kernel's guard is
// RLIMIT_RTTIME (CPU time a real-time thread may use without blocking; PulseAudio and rtkit set it too): past it,
// SIGXCPU arrives, and this handler drops the thread that ran over (and the registered audio thread) back to normal
// scheduling with sched_setscheduler, a plain system call and so safe in a handler. Installs the handler and lowers
// the soft limit to `limit_us` (never raising the hard one). Returns 0 or an errno.
int speakd_realtime_guard_install(long limit_us);
// Called on the audio thread: the thread the handler demotes whichever thread took the signal; unblocks SIGXCPU there.
void speakd_realtime_guard_register_thread(void);
// How many times the guard has demoted a thread since start.
long speakd_realtime_guard_demotions(void);

// Test-only LD_PRELOAD probe: counts heap allocations made on the thread named "speakd-audio" and writes the running
// count to $SPEAKD_ALLOC_PROBE_FILE. The integration test reads it after the device is open and again after more
// playback: a steady-state audio thread must not have allocated in between.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static unsigned long audio_allocations;
static __thread int in_probe;

static int on_audio_thread(void) {
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name) != 0) return 0;
    return strcmp(name, "speakd-audio") == 0;
}

static void record(void) {
    if (in_probe || !on_audio_thread()) return;
    in_probe = 1;
    audio_allocations++;
    const char *path = getenv("SPEAKD_ALLOC_PROBE_FILE");
    if (path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char text[32];
            int length = snprintf(text, sizeof text, "%lu\n", audio_allocations);
            if (write(fd, text, (size_t)length) < 0) {}
            close(fd);
        }
    }
    in_probe = 0;
}

// dlsym may itself call calloc before real_calloc is known: serve that from a static arena.
static char bootstrap_arena[4096];
static size_t bootstrap_used;

void *malloc(size_t size) {
    if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc");
    record();
    return real_malloc(size);
}

void *calloc(size_t count, size_t size) {
    if (!real_calloc) {
        static int resolving;
        if (resolving) {
            void *block = bootstrap_arena + bootstrap_used;
            bootstrap_used += (count * size + 15) & ~(size_t)15;
            return bootstrap_used <= sizeof bootstrap_arena ? block : NULL;
        }
        resolving = 1;
        real_calloc = dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    record();
    return real_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc");
    record();
    return real_realloc(pointer, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (!real_posix_memalign) real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    record();
    return real_posix_memalign(out, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    if (!real_aligned_alloc) real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    record();
    return real_aligned_alloc(alignment, size);
}

void free(void *pointer) {
    static void (*real_free)(void *);
    if ((char *)pointer >= bootstrap_arena && (char *)pointer < bootstrap_arena + sizeof bootstrap_arena) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(pointer);
}

// Test-only: counts heap allocations made on threads named "speakd-audio" while probing is on, in-process (the test
// executable defines malloc and friends, so every allocation in the process passes through here). The unit-test
// counterpart of Tests/Support/audio_thread_alloc_probe.c (the LD_PRELOAD probe the integration tests use).
#pragma once

/// 1 when this build counts allocations (not under a sanitizer, which brings its own allocator), else 0.
int speakd_allocation_probe_available(void);
/// Starts counting (from zero).
void speakd_allocation_probe_start(void);
/// Allocations counted on "speakd-audio" threads since the start; counting goes on.
unsigned long speakd_allocation_probe_count(void);
/// Stops counting.
void speakd_allocation_probe_stop(void);

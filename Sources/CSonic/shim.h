// libsonic (Bill Cox): speech-oriented time-stretching with pitch kept. Debian ships no sonic.pc.
#include <sonic.h>

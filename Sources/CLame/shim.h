// libmp3lame has no pkg-config file on Debian; its header lives in /usr/include/lame.
#include <lame/lame.h>

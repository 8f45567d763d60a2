// libmpg123's feed decoder (mpg123_open_feed / mpg123_decode); mpg123.h wants size_t and off_t declared first.
#include <sys/types.h>
#include <mpg123.h>

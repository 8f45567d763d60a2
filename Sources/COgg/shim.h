// libogg's page and packet framing (ogg_sync_* / ogg_stream_*), for decoding Ogg Opus as it streams in.
#include <ogg/ogg.h>

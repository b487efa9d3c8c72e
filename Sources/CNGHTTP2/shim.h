#ifndef ALERTGATE_CNGHTTP2_SHIM_H
#define ALERTGATE_CNGHTTP2_SHIM_H

// The system nghttp2 (Debian 12: 1.52), plus static inline wrappers for the macros Swift
// cannot import. Use the 1.52 API: nghttp2_session_mem_recv/mem_send and
// nghttp2_data_provider; the "2" variants arrived in 1.60.
#include <nghttp2/nghttp2.h>

// Window sizes are macros with casts.
static inline int32_t CNGHTTP2_INITIAL_WINDOW_SIZE(void) { return NGHTTP2_INITIAL_WINDOW_SIZE; }
static inline int32_t CNGHTTP2_MAX_WINDOW_SIZE(void) { return NGHTTP2_MAX_WINDOW_SIZE; }

#endif

/* A Cortex-M view of Debian's mbedTLS 2.28 configuration, for compile and
   size checks only (tests/check-build.sh, make size): the host
   configuration without threads, sockets, files or a platform clock. */
#include "mbedtls/config.h"
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_NET_C
#undef MBEDTLS_FS_IO
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_ENTROPY_PLATFORM
#define MBEDTLS_NO_PLATFORM_ENTROPY

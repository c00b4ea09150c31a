/* Cortex-M adjustments to mbedTLS 3.6's default configuration, for compile
   and size checks only (tests/check-build.sh): no threads, sockets, files or
   platform clock; entropy comes from the port, PSA's from a TRNG hook. */
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_NET_C
#undef MBEDTLS_FS_IO
#undef MBEDTLS_TIMING_C
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_PSA_ITS_FILE_C
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
/* 3.6 keeps a millisecond clock (TLS 1.3 ticket ages, timeouts): without an
   OS the firmware provides mbedtls_ms_time() itself (e.g. from sys_now()). */
#define MBEDTLS_PLATFORM_MS_TIME_ALT

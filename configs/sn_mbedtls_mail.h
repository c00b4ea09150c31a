/* sn_mbedtls_mail.h - mbedTLS 3.6 configuration for securenet's mail sender
   talking to public mail servers (and serving HTTPS beside it):
   sn_mbedtls_minimal.h plus what public servers' certificate chains and
   handshakes need.

   Use: -DMBEDTLS_CONFIG_FILE='"sn_mbedtls_mail.h"' -Iconfigs, for mbedTLS's
   library sources and for the program that includes securenet.h alike (it
   replaces mbedtls_config.h entirely; see configs/README.md).

   securenet features this configuration supports
     - The mail sender (sn_mail_send), implicit TLS and STARTTLS, to public
       submission servers (Gmail, Outlook/Exchange Online, Postfix or Exim
       with Let's Encrypt, ...): their chains are RSA (PKCS#1 v1.5 and PSS
       signatures, SHA-256/384/512) or ECDSA P-256/P-384; they send their
       certificates in 16 KiB handshake records, so incoming records are
       16 KiB. TLS 1.2 with ECDHE-RSA or ECDHE-ECDSA, AES-128/256-GCM; TLS 1.3.
     - Outgoing TLS in general (sn_connect, sn_http_request) to the same kind
       of public servers; the key pin.
     - The HTTPS server of sn_mbedtls_browser.h (ECDSA or RSA certificate,
       tickets, cache, mutual TLS).
   Not supported: ChaCha20-Poly1305 (no public mail server requires it: all
   offer AES-GCM), X25519 key shares (TLS 1.3 servers that prefer X25519
   ask for P-256 with a HelloRetryRequest: one round trip more), finite-
   field DHE, encrypted keys, files, mbedTLS's debug output and error texts.

   What the firmware must provide: as for sn_mbedtls_minimal.h
   (mbedtls_psa_external_get_random; mbedtls_ms_time without an OS; time()),
   and trusted roots for the servers (sn_smtp_server.ca: e.g. ISRG Root X1
   and the roots of the providers used).

   Costs over sn_mbedtls_minimal.h: +12 KiB incoming record buffer while a
   mail session is open, the server's chain parsed during the handshake and
   kept with the saved session for resumption (KEEP_PEER_CERTIFICATE), RSA,
   SHA-512 and P-384 (~25 KiB flash). */
#ifndef SN_MBEDTLS_MAIL_H
#define SN_MBEDTLS_MAIL_H

/* ---- system ----------------------------------------------------------- */

/* Assembly for bignum multiplication (Thumb-2 UMAAL on Cortex-M4, i386 on
   -m32): ECDHE and ECDSA 2-3x faster, no RAM cost. */
#define MBEDTLS_HAVE_ASM

/* A seconds clock (time()): session cache expiry and ticket key rotation;
   TLS 1.3 needs it for ticket lifetimes. No RAM cost. */
#define MBEDTLS_HAVE_TIME

/* No OS clock for mbedTLS's millisecond timer: the firmware supplies
   mbedtls_ms_time(). On Unix hosts mbedTLS uses clock_gettime itself. */
#if !defined(__unix__) && !defined(__unix) && !defined(__APPLE__) && !defined(_WIN32)
#define MBEDTLS_PLATFORM_MS_TIME_ALT
#endif

/* Left out on purpose (no define): MBEDTLS_HAVE_TIME_DATE (mbedTLS would
   read the date with gmtime to check certificate validity; securenet does
   that check itself with the port's wall clock), MBEDTLS_FS_IO (no files),
   MBEDTLS_NET_C (securenet's port owns the sockets), MBEDTLS_TIMING_C (DTLS
   only), MBEDTLS_THREADING_C (securenet runs in one thread). */

/* The platform layer: needed for the allocator hook below. ~100 B flash. */
#define MBEDTLS_PLATFORM_C

/* mbedtls_platform_set_calloc_free(): lets the firmware hand mbedTLS a
   board allocator (or a counting one: bench/heap.c). Default is calloc/free. */
#define MBEDTLS_PLATFORM_MEMORY

/* No /dev/urandom or getrandom inside mbedTLS: randomness comes from the
   port (securenet's DRBG) and from mbedtls_psa_external_get_random (PSA). */
#define MBEDTLS_NO_PLATFORM_ENTROPY

/* Deprecated 2.x-compatibility functions left out: less flash, and a
   compile error if anything still calls them. */
#define MBEDTLS_DEPRECATED_REMOVED

/* ---- symmetric crypto ------------------------------------------------- */

/* AES: the record cipher (AES-128-GCM), the ticket key (AES-256-GCM) and
   CTR_DRBG. */
#define MBEDTLS_AES_C

/* AES tables in flash (const) instead of built in RAM at first use: saves
   8 KiB of RAM (.bss) for ~8 KiB more flash. */
#define MBEDTLS_AES_ROM_TABLES

/* One table instead of four (computed rotations): another 6 KiB of flash
   saved; AES is slightly slower, which the handshake's ECC dwarfs. */
#define MBEDTLS_AES_FEWER_TABLES

/* The cipher layer: mbedTLS's TLS record code and the ticket module use it
   (required by MBEDTLS_SSL_TLS_C unless MBEDTLS_USE_PSA_CRYPTO). */
#define MBEDTLS_CIPHER_C

/* GCM: the AEAD of both suites and of the ticket protection. */
#define MBEDTLS_GCM_C

/* Left out: CCM, ChaCha20/Poly1305, CBC modes (MBEDTLS_CIPHER_MODE_CBC:
   only CBC suites, which securenet never offers), DES, Camellia, ARIA. */

/* ---- hashes and DRBG -------------------------------------------------- */

/* Message-digest layer: HMAC for HKDF, the TLS 1.2 PRF and the handshake
   transcript. */
#define MBEDTLS_MD_C

/* SHA-256: the one hash of both suites, of the certificate signatures this
   configuration verifies, and of securenet's key pin. */
#define MBEDTLS_SHA256_C

/* A smaller, slightly slower SHA-256 (the compression loop is not
   unrolled): ~1.5 KiB flash saved. */
#define MBEDTLS_SHA256_SMALLER

/* SHA-384 and SHA-512: signatures of public chains (sha384WithRSA,
   ecdsa-with-SHA384) and the *_SHA384 suites. ~3 KiB flash; SHA-384 runs on
   SHA-512's engine. SHA-1 stays out: no SHA-1-signed certificate is
   trusted. */
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C

/* HKDF: TLS 1.3's key schedule (through PSA's HKDF-Extract/Expand). */
#define MBEDTLS_HKDF_C

/* CTR_DRBG: securenet's DRBG (sn_mgr), seeded from the port's entropy hook;
   it feeds mbedTLS's f_rng (TLS 1.2 ECDHE, ticket keys, server randoms). */
#define MBEDTLS_CTR_DRBG_C

/* HMAC_DRBG: needed by deterministic ECDSA below. ~1 KiB flash. */
#define MBEDTLS_HMAC_DRBG_C

/* Left out: MBEDTLS_ENTROPY_C (securenet seeds CTR_DRBG from the port and PSA
   uses the external RNG), SHA-1, SHA-224, MD5, RIPEMD. */

/* ---- public-key crypto ------------------------------------------------ */

/* Big numbers for ECC. */
#define MBEDTLS_BIGNUM_C

/* Elliptic curves, with P-256 only: ECDHE key exchange and ECDSA. Every
   further curve costs 1-3 KiB flash. */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED

/* Fast modular reduction for the NIST curve: ~2x faster point operations
   for ~1 KiB flash. */
#define MBEDTLS_ECP_NIST_OPTIM

/* Small comb window: each scalar multiplication keeps 2^(w-1) precomputed
   points on the heap; w=2 holds 2 points (~200 B) where the default w=4
   holds 8, and peaks lower during the handshake; ~30% slower ECDSA
   signing and ECDH. */
#define MBEDTLS_ECP_WINDOW_SIZE 2

/* No cached table of multiples of the generator (the default keeps one per
   group: ~2 KiB of heap for P-256 that stays for as long as the group). */
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

/* ECDH: TLS 1.2's ECDHE (TLS 1.3 goes through PSA, which uses it too). */
#define MBEDTLS_ECDH_C

/* ECDSA: the server's signature and the verification of peers' chains. */
#define MBEDTLS_ECDSA_C

/* Deterministic ECDSA nonces (RFC 6979): a weak RNG at signing time cannot
   leak the private key. ~1 KiB flash (HMAC_DRBG). */
#define MBEDTLS_ECDSA_DETERMINISTIC

/* RSA: verifying the RSA chains most public servers present, and ECDHE-RSA
   key exchange.
   ~12 KiB flash; an RSA-2048 private operation needs ~3 KB of heap for a
   moment (MPI temporaries, with MBEDTLS_MPI_WINDOW_SIZE below). */
#define MBEDTLS_RSA_C
/* PKCS#1 v1.5 signatures (TLS 1.2 with an RSA certificate; the signature
   of nearly every RSA certificate). */
#define MBEDTLS_PKCS1_V15
/* PKCS#1 v2.1 (RSA-PSS): TLS 1.3 signs and verifies with RSA only in PSS
   (rsa_pss_rsae_*), so TLS 1.3 with an RSA certificate needs it. */
#define MBEDTLS_PKCS1_V21
/* Certificates signed with RSASSA-PSS can be parsed and verified. */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
/* Smaller sliding window for RSA exponentiation: 2^(w-1) precomputed
   values of the modulus' size (w=6 default: 32 x 256 B for RSA-2048 on the
   heap during the private operation; w=2: 2 x 256 B), ~20% slower. */
#define MBEDTLS_MPI_WINDOW_SIZE 2

/* P-384: ECDSA P-384 certificates (Let's Encrypt's E5-E9 intermediates,
   ISRG Root X2) and P-384 key shares. ~1.5 KiB flash. */
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED

/* Left out: DHM (finite-field DHE), X25519, P-521 and Brainpool curves. */

/* ---- ASN.1, keys, certificates ---------------------------------------- */

/* ASN.1 reading (certificates, keys, signatures) and writing (ECDSA
   signatures; the public key DER that securenet's pin hashes). */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C

/* Object identifiers of algorithms and extensions. */
#define MBEDTLS_OID_C

/* Public-key layer: the server key, peers' keys. */
#define MBEDTLS_PK_C

/* Parsing keys: SEC1 and unencrypted PKCS#8 EC keys, PEM or DER. */
#define MBEDTLS_PK_PARSE_C

/* Writing public keys: securenet hashes the peer's SubjectPublicKeyInfo for
   the pin (mbedtls_pk_write_pubkey_der); mbedTLS also uses it internally. */
#define MBEDTLS_PK_WRITE_C

/* PEM: certificates and keys as -----BEGIN ... text (DER works without
   it, but users paste PEM). Base64 is PEM's encoding. */
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C
/* WebSocket's handshake (Sec-WebSocket-Accept, RFC 6455 4.2.2) only: TLS here signs and
   verifies with SHA-256 and up (mbedTLS 3's defaults leave SHA-1 out of TLS and X.509).
   mbedTLS's PSA hash dispatch links it whenever it is defined (4.4 KiB on Cortex-M4,
   `make size`): a firmware without WebSocket builds mbedTLS with -DSN_MBEDTLS_NO_SHA1. */
#if !defined(SN_MBEDTLS_NO_SHA1)
#define MBEDTLS_SHA1_C
#endif

/* X.509: certificate parsing and chain verification. The parsed server
   chain stays in RAM for the listener's life (~500 B parse tree per
   certificate on top of its DER, which mbedTLS keeps a copy of). */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C

/* Chains deeper than leaf + 3 intermediates are refused (default 8): only
   bounds the verification's stack frames and work. */
#define MBEDTLS_X509_MAX_INTERMEDIATE_CA 4

/* Left out: MBEDTLS_X509_RSASSA_PSS_SUPPORT (RSA only), CRL, CSR and
   certificate writing, PKCS#5/PKCS#12 (encrypted keys),
   MBEDTLS_PK_PARSE_EC_EXTENDED (explicit curve parameters, never used in
   practice), MBEDTLS_X509_REMOVE_INFO must stay off: securenet logs the
   verification result with mbedtls_x509_crt_verify_info(). */

/* ---- PSA Crypto (TLS 1.3 runs on it) --------------------------------- */

/* PSA Crypto: TLS 1.3's key schedule, AEAD and ECDHE go through it;
   securenet calls psa_crypto_init() in sn_mgr_create(). Its key store grows
   on the heap with the keys in use (MBEDTLS_PSA_KEY_STORE_DYNAMIC, on by
   default in 3.6: about 2 AEAD keys per open TLS 1.3 connection). */
#define MBEDTLS_PSA_CRYPTO_C

/* PSA takes random numbers from the firmware's
   mbedtls_psa_external_get_random() instead of running its own entropy
   collector and DRBG: saves the ~0.4 KiB global entropy + DRBG state and
   the entropy module's flash. The firmware's RNG must be cryptographic. */
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

/* PSA functions work on the caller's buffers directly instead of copying
   inputs and outputs first (the copies guard against buffers shared with an
   untrusted party, which a single-image firmware does not have): saves
   about 4 KB of heap per handshake (record-sized copies during AEAD), and
   flash. */
#define MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS

/* Grow the key store on demand (3.6 default, spelled out): volatile keys
   cost heap only while they exist; the alternative is a fixed array of
   MBEDTLS_PSA_KEY_SLOT_COUNT slots in .bss. */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC

/* Left out: persistent key storage (MBEDTLS_PSA_CRYPTO_STORAGE_C,
   MBEDTLS_PSA_ITS_FILE_C: no file system). */

/* ---- TLS -------------------------------------------------------------- */

/* The TLS protocol, as server (HTTPS) and client (mail, sn_connect). */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C

/* TLS 1.2 and TLS 1.3 (securenet refuses anything older). TLS 1.3 costs
   ~34 KiB flash over TLS 1.2 alone, and ~1 KB more heap per idle
   connection (its PSA keys and ticket state). */
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3

/* TLS 1.2 key exchange: ECDHE with an ECDSA or an RSA certificate. */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED

/* TLS 1.3 key exchange: full handshakes with (EC)DHE, and resumption with
   a ticket plus a fresh ECDHE (forward secret). Plain PSK resumption
   (MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED) is left out: it is
   not forward secret. */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED

/* Middlebox compatibility mode (RFC 8446 D.4): a dummy ChangeCipherSpec
   and session id, so TLS 1.3 passes old firewalls. A few bytes. */
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE

/* Extended master secret (RFC 7627): closes TLS 1.2's triple-handshake
   attack; clients expect it. No RAM cost. */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET

/* Session tickets (RFC 5077, and TLS 1.3's NewSessionTicket): resumption
   without server state. securenet turns them on when both are defined; the
   ticket keys (two, ~100 B) live in the listener. */
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C

/* Session cache: TLS 1.2 resumption by session id for clients without
   tickets. Each entry holds a session (~200 B, plus the client's
   certificate under mutual TLS), up to sn_tls_opts.session_cache_size. */
#define MBEDTLS_SSL_CACHE_C

/* SNI: the client sends the host name (mail servers and virtual hosts
   need it); the server accepts it. */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION

/* The peer's certificate stays in the session after the handshake.
   Required: 3.6's TLS 1.3 does not build without it (check_config.h), and
   securenet needs it for the key pin (sn__tlsc_check_pin) and the mutual
   TLS subject (mbedtls_ssl_get_peer_cert returns NULL without it). Costs
   the parsed peer chain while a connection lives (nothing when a server's
   clients present no certificate). */
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE

/* Max fragment length (RFC 6066): a client may ask for 512-4096 byte
   records; kept for peers that ask (no RAM cost). */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH

/* Record size limit (RFC 8449, TLS 1.3 only): the server tells TLS 1.3
   clients that support it (Firefox, GnuTLS) to send records of at most
   MBEDTLS_SSL_IN_CONTENT_LEN, and the client asks servers for the same;
   records we send follow the peer's limit. */
#define MBEDTLS_SSL_RECORD_SIZE_LIMIT

/* Send an alert for every failure, so the peer logs why. ~0.3 KiB flash. */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES

/* Incoming records of up to 16 KiB: public mail servers send their
   certificate chains (3-6 KiB) in one record and do not negotiate a
   smaller size (OpenSSL, on which most run, supports neither
   max_fragment_length as a server by default nor record_size_limit).
   Outgoing 4 KiB: the client's own records stay small at no cost; -D may
   override either (library and program alike). */
#ifndef MBEDTLS_SSL_IN_CONTENT_LEN /* -D may override: library and program alike */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#endif
#ifndef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096
#endif

/* Left out: MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH. With IN larger than OUT,
   3.6 shrinks the input buffer to OUT's size after a TLS 1.2 handshake and
   then refuses the peer's larger records (see sn_mbedtls_minimal.h). */

/* The suites, in preference order (the defaults list every suite built;
   naming them keeps the ClientHello short). */
#define MBEDTLS_SSL_CIPHERSUITES                                                                   \
  MBEDTLS_TLS1_3_AES_128_GCM_SHA256, MBEDTLS_TLS1_3_AES_256_GCM_SHA384,                     \
  MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
  MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

/* Left out: MBEDTLS_SSL_PROTO_DTLS and every MBEDTLS_SSL_DTLS_* option
   (securenet is TCP only), renegotiation (MBEDTLS_SSL_RENEGOTIATION:
   attack surface, never used), MBEDTLS_SSL_ALPN (securenet speaks only
   HTTP/1.1), MBEDTLS_SSL_EARLY_DATA (0-RTT replays), MBEDTLS_SSL_CONTEXT_
   SERIALIZATION, MBEDTLS_SSL_ENCRYPT_THEN_MAC (CBC only),
   MBEDTLS_SSL_ASYNC_PRIVATE.
   Left out for size: MBEDTLS_ERROR_C (the user loses mbedtls_strerror's
   words: securenet logs "mbedTLS error" with the code, -0xXXXX, to be
   looked up in mbedTLS's headers; ~8 KiB flash) and MBEDTLS_DEBUG_C (the
   user loses mbedTLS's own handshake trace, sn_mgr_opts.tls_debug does
   nothing; ~10 KiB flash and the format strings). */

#endif /* SN_MBEDTLS_MAIL_H */

/* example_util.h - small helpers the command-line examples share: reading a
   file or a stream whole, several CA files as one PEM bundle (as firmware
   keeps its roots), and base64 for key pins. Not part of securenet. */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads f to its end, at most max bytes (the rest is dropped); *len is set.
   NUL-terminated. NULL when out of memory. */
static inline char *ex_read_stream(FILE *f, size_t max, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = (char *) malloc(cap + 1);
  while (buf != NULL && n < max) {
    size_t got;
    if (n == cap) {
      char *p = (char *) realloc(buf, cap * 2 + 1);
      if (p == NULL) break;
      buf = p, cap *= 2;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (buf == NULL) return NULL;
  if (n > max) n = max;
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* A whole file (at most 16 MiB), NUL-terminated; NULL if it cannot be read. */
static inline char *ex_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n = 0;
  if (f == NULL) return NULL;
  buf = ex_read_stream(f, 16u << 20, &n);
  fclose(f);
  if (len) *len = n;
  return buf;
}

/* The files' contents one after another, NUL-terminated (*len counts the
   NUL, as mbedTLS wants for PEM); one DER file is returned as it is (*len its
   size). NULL, with *bad naming the file, if one cannot be read. */
static inline char *ex_ca_bundle(const char *const *files, int n, size_t *len, const char **bad) {
  char *bundle = NULL;
  size_t used = 0;
  int i;
  if (n == 1) {
    char *one = ex_read_file(files[0], &used);
    if (one == NULL) {
      *bad = files[0];
      return NULL;
    }
    if (strstr(one, "-----BEGIN") == NULL) { /* DER: exactly its bytes */
      *len = used;
      return one;
    }
    free(one);
    used = 0;
  }
  for (i = 0; i < n; i++) {
    size_t k = 0;
    char *pem = ex_read_file(files[i], &k), *p;
    if (pem == NULL || (p = (char *) realloc(bundle, used + k + 2)) == NULL) {
      free(pem);
      free(bundle);
      *bad = files[i];
      return NULL;
    }
    bundle = p;
    memcpy(bundle + used, pem, k);
    used += k;
    bundle[used++] = '\n';
    bundle[used] = '\0';
    free(pem);
  }
  *len = bundle ? used + 1 : 0;
  return bundle;
}

/* Standard base64 (as curl's --pinnedpubkey and HPKP write pins): the
   decoded length, or -1 for bad input or more than cap bytes. */
static inline int ex_base64_decode(const char *in, unsigned char *out, size_t cap) {
  static const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned long acc = 0;
  int bits = 0;
  size_t n = 0;
  for (; *in && *in != '='; in++) {
    const char *p = strchr(abc, *in);
    if (p == NULL) return -1;
    acc = ((acc << 6) | (unsigned long) (p - abc)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n == cap) return -1;
      out[n++] = (unsigned char) (acc >> bits);
    }
  }
  return (int) n;
}

#endif /* EXAMPLE_UTIL_H */

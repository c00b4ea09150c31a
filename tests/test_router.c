/* test_router.c - sn_router_add() validation and sn_router_match().

   Proves: malformed patterns are refused (SN_ERR_INVALID) and a full
   router says SN_ERR_FULL; literal, :param and trailing '*' matching with
   their captures; precedence literal > param > wildcard whatever the order
   the routes were added in; identical patterns: the first added wins; GET
   answers HEAD; "*" and NULL methods match any method; 404 against 405 and
   the Allow list (deduplicated, HEAD beside GET, never overflowing).

   Requests are built by hand (method and path in exact-size heap copies,
   so ASan sees any read past them). */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

static sn_request req;
static char *mbuf, *pbuf;
static char allow[128];

static void h(sn_conn *c, const sn_request *r, void *u) {
  (void) c;
  (void) r;
  (void) u;
}

/* Matches method and path against r; returns what sn_router_match does. */
static int match(const sn_router *r, const char *method, const char *path) {
  size_t ml = strlen(method), pl = strlen(path);
  free(mbuf);
  free(pbuf);
  mbuf = (char *) malloc(ml ? ml : 1);
  pbuf = (char *) malloc(pl ? pl : 1);
  if (mbuf == NULL || pbuf == NULL) abort();
  memcpy(mbuf, method, ml);
  memcpy(pbuf, path, pl);
  memset(&req, 0, sizeof req);
  req.method.ptr = mbuf;
  req.method.len = ml;
  req.path.ptr = pbuf;
  req.path.len = pl;
  req.version = 11;
  return sn_router_match(r, &req, allow, sizeof allow);
}

/* The user pointer of the matched route, or NULL. */
static const char *winner(const sn_router *r, const char *method, const char *path) {
  int i = match(r, method, path);
  return i >= 0 ? (const char *) r->routes[i].user : NULL;
}

/* 1 if the comma-separated list holds exactly the given methods, each once. */
static int allow_is(const char *list, const char *const *methods, int n) {
  int i, count = 0;
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t) (end - p) : strlen(p);
    int found = 0;
    for (i = 0; i < n; i++)
      if (strlen(methods[i]) == len && memcmp(methods[i], p, len) == 0) found++;
    if (found != 1) return 0;
    count++;
    p += len;
    if (*p == ',') {
      p++;
      if (*p != ' ') return 0;
      p++;
    }
  }
  return count == n;
}

static void test_add(void) {
  sn_router r;
  int i, ok;
  static char pats[SN_MAX_ROUTES + 1][16];
  static char deep33[80], deep32[80];
  sn_router_init(&r);
  CHECK_INT(sn_router_add(&r, "GET", "api", h, NULL), SN_ERR_INVALID, "router: a pattern without a leading '/' is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "", h, NULL), SN_ERR_INVALID, "router: an empty pattern is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", NULL, h, NULL), SN_ERR_INVALID, "router: a NULL pattern is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/*/x", h, NULL), SN_ERR_INVALID, "router: '*' before the last segment is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "", "/x", h, NULL), SN_ERR_INVALID, "router: an empty method is SN_ERR_INVALID (it made the 405 Allow list loop: fuzz)");
  CHECK_INT(sn_router_add(&r, "G T", "/x", h, NULL), SN_ERR_INVALID, "router: a method with a space is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/a/*/", h, NULL), SN_ERR_INVALID, "router: '*' followed by '/' is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/:", h, NULL), SN_ERR_INVALID, "router: an empty ':' parameter name is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/a/:/b", h, NULL), SN_ERR_INVALID, "router: an empty ':' name in the middle is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/:a/:b/:c/:d/:e", h, NULL), SN_ERR_INVALID,
            "router: more than SN_MAX_PARAMS parameters is SN_ERR_INVALID");
  CHECK_INT(sn_router_add(&r, "GET", "/ok", NULL, NULL), SN_ERR_INVALID, "router: a NULL handler is SN_ERR_INVALID");
  CHECK_INT(r.count, 0, "router: refused routes are not added");
  CHECK_INT(sn_router_add(&r, "GET", "/:a/:b/:c/:d", h, NULL), SN_OK, "router: exactly SN_MAX_PARAMS parameters are accepted");
  CHECK_INT(sn_router_add(&r, "GET", "/", h, NULL), SN_OK, "router: the root pattern \"/\" is accepted");
  CHECK_INT(sn_router_add(&r, "GET", "/*", h, NULL), SN_OK, "router: \"/*\" is accepted");
  CHECK_INT(sn_router_add(&r, NULL, "/any", h, NULL), SN_OK, "router: a NULL method is accepted");
  for (i = 0; i < 33; i++) memcpy(deep33 + 2 * i, "/a", 2);
  memcpy(deep32, deep33, 64);
  CHECK_INT(sn_router_add(&r, "GET", deep32, h, NULL), SN_OK, "router: a pattern of 32 segments is accepted");
  CHECK_INT(sn_router_add(&r, "GET", deep33, h, NULL), SN_ERR_INVALID, "router: a pattern of 33 segments is SN_ERR_INVALID");

  sn_router_init(&r);
  ok = 1;
  for (i = 0; i < SN_MAX_ROUTES; i++) {
    snprintf(pats[i], sizeof pats[i], "/r%d", i);
    if (sn_router_add(&r, "GET", pats[i], h, NULL) != SN_OK) ok = 0;
  }
  CHECK(ok && r.count == SN_MAX_ROUTES, "router: SN_MAX_ROUTES routes are accepted");
  snprintf(pats[SN_MAX_ROUTES], sizeof pats[0], "/one-more");
  CHECK_INT(sn_router_add(&r, "GET", pats[SN_MAX_ROUTES], h, NULL), SN_ERR_FULL, "router: one route beyond SN_MAX_ROUTES is SN_ERR_FULL");
  CHECK_INT(r.count, SN_MAX_ROUTES, "router: a full router stays as it was");
  CHECK_INT(match(&r, "GET", "/r31"), 31, "router: the last of SN_MAX_ROUTES routes matches");
}

static void test_match(void) {
  sn_router r;
  int i;
  sn_router_init(&r);
  sn_router_add(&r, "GET", "/api/status", h, "status");
  sn_router_add(&r, "GET", "/users/:id/posts/:post", h, "posts");
  sn_router_add(&r, "GET", "/files/*", h, "files");
  sn_router_add(&r, "GET", "/", h, "root");
  sn_router_add(&r, "GET", "/dir/", h, "dir");

  CHECK_STR(winner(&r, "GET", "/api/status"), "status", "router: a literal path matches its route");
  CHECK_INT(match(&r, "GET", "/api/statu"), -404, "router: a prefix of a literal does not match");
  CHECK_INT(match(&r, "GET", "/api/status/"), -404, "router: a trailing slash is another path");
  CHECK_INT(match(&r, "GET", "/api/statusx"), -404, "router: a longer segment does not match");
  CHECK_INT(match(&r, "GET", "/API/status"), -404, "router: literals are case-sensitive");

  i = match(&r, "GET", "/users/42/posts/hello world");
  CHECK(i == 1 && req.param_count == 2, "router: a pattern with two :params captures both");
  CHECK(sn__eq(req.param_names[0], "id") && sn__eq(req.param_names[1], "post"), "router: parameter names come from the pattern");
  CHECK(sn__eq(req.params[0], "42") && sn__eq(req.params[1], "hello world"), "router: parameter values are the path's segments");
  CHECK(req.params[0].ptr == req.path.ptr + 7, "router: parameter values are slices of the path (no copy)");
  CHECK_SN(sn_http_param(&req, "post"), "hello world", "sn_http_param: finds a parameter by name");
  CHECK(sn_http_param(&req, "nope").ptr == NULL && sn_http_param(&req, "nope").len == 0, "sn_http_param: an absent name is {NULL, 0}");
  CHECK(sn_http_param(&req, "i").ptr == NULL, "sn_http_param: a prefix of a name does not match");
  CHECK_INT(match(&r, "GET", "/users//posts/1"), -404, "router: a :param does not match an empty segment");
  CHECK_INT(match(&r, "GET", "/users/42/posts"), -404, "router: a missing :param segment does not match");
  CHECK_INT(match(&r, "GET", "/users/42/posts/1/x"), -404, "router: a :param matches one segment only");

  i = match(&r, "GET", "/files/a/b/c.txt");
  CHECK(i == 2 && sn__eq(req.wildcard, "a/b/c.txt"), "router: '*' captures the rest of the path, slashes included");
  i = match(&r, "GET", "/files/");
  CHECK(i == 2 && req.wildcard.len == 0, "router: /files/ matches /files/* with an empty wildcard");
  CHECK_INT(match(&r, "GET", "/files"), -404, "router: /files does not match /files/*");
  CHECK_INT(match(&r, "GET", "/filesx/a"), -404, "router: '*' needs its literal prefix segment whole");

  CHECK_STR(winner(&r, "GET", "/"), "root", "router: \"/\" matches the root pattern");
  CHECK_STR(winner(&r, "GET", "/dir/"), "dir", "router: a pattern with a trailing slash matches that path");
  CHECK_INT(match(&r, "GET", "/dir"), -404, "router: a pattern with a trailing slash does not match the path without");
  CHECK_INT(match(&r, "GET", ""), -404, "router: an empty path matches nothing");
  CHECK_INT(match(&r, "OPTIONS", "*"), -404, "router: the path \"*\" matches nothing");

  sn_router_init(&r);
  sn_router_add(&r, "GET", "/*", h, "all");
  i = match(&r, "GET", "/");
  CHECK(i == 0 && req.wildcard.len == 0, "router: \"/*\" matches \"/\" with an empty wildcard");
  {
    char deep[400];
    size_t o = 0;
    int k;
    for (k = 0; k < 60; k++) o += (size_t) snprintf(deep + o, sizeof deep - o, "/s%d", k);
    i = match(&r, "GET", deep);
    CHECK(i == 0 && req.wildcard.len == o - 1, "router: a path of 60 segments is matched by \"/*\"");
  }
}

/* Adds the routes in the order given by perm. */
static void add_perm(sn_router *r, const char *const *pats, const char *const *names, const int *perm, int n) {
  int i;
  sn_router_init(r);
  for (i = 0; i < n; i++) sn_router_add(r, "GET", pats[perm[i]], h, (void *) names[perm[i]]);
}

static void test_precedence(void) {
  static const char *const pats[] = {"/a/b", "/a/:x", "/a/*"};
  static const char *const names[] = {"literal", "param", "wildcard"};
  static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  int p, lit = 1, par = 1, wild = 1, wild_empty = 1, clean = 1;
  sn_router r;
  for (p = 0; p < 6; p++) {
    const char *w;
    add_perm(&r, pats, names, perms[p], 3);
    w = winner(&r, "GET", "/a/b");
    if (w == NULL || strcmp(w, "literal") != 0) lit = 0;
    if (req.param_count != 0 || req.wildcard.ptr != NULL) clean = 0;
    w = winner(&r, "GET", "/a/c");
    if (w == NULL || strcmp(w, "param") != 0 || !sn__eq(req.params[0], "c") || req.param_count != 1) par = 0;
    w = winner(&r, "GET", "/a/c/d");
    if (w == NULL || strcmp(w, "wildcard") != 0 || !sn__eq(req.wildcard, "c/d") || req.param_count != 0) wild = 0;
    w = winner(&r, "GET", "/a/");
    if (w == NULL || strcmp(w, "wildcard") != 0 || req.wildcard.len != 0) wild_empty = 0;
  }
  CHECK(lit, "router: literal beats :param and '*' in all 6 registration orders");
  CHECK(clean, "router: the winning literal route has no captures left from a losing :param route");
  CHECK(par, "router: :param beats '*' in all 6 registration orders");
  CHECK(wild, "router: '*' wins where only it matches (two segments) in all 6 orders");
  CHECK(wild_empty, "router: /a/ goes to /a/* (a :param needs a non-empty segment) in all 6 orders");

  {
    /* the first segment where they differ decides, not the count of literals */
    static const char *const p2[] = {"/a/:x/c", "/a/b/*"};
    static const char *const n2[] = {"param-then-literal", "literal-then-wildcard"};
    static const int o1[] = {0, 1}, o2[] = {1, 0};
    const char *w1, *w2;
    add_perm(&r, p2, n2, o1, 2);
    w1 = winner(&r, "GET", "/a/b/c");
    add_perm(&r, p2, n2, o2, 2);
    w2 = winner(&r, "GET", "/a/b/c");
    CHECK(w1 && w2 && strcmp(w1, "literal-then-wildcard") == 0 && strcmp(w2, w1) == 0,
          "router: at the first differing segment a literal beats a :param, in both orders");
  }
  {
    static const char *const p3[] = {"/:x/b", "/a/:y"};
    static const char *const n3[] = {"param-first", "literal-first"};
    static const int o1[] = {0, 1}, o2[] = {1, 0};
    const char *w1, *w2;
    add_perm(&r, p3, n3, o1, 2);
    w1 = winner(&r, "GET", "/a/b");
    add_perm(&r, p3, n3, o2, 2);
    w2 = winner(&r, "GET", "/a/b");
    CHECK(w1 && w2 && strcmp(w1, "literal-first") == 0 && strcmp(w2, w1) == 0,
          "router: /a/:y beats /:x/b for /a/b, in both orders");
  }
  {
    static const char *const p4[] = {"/a/:x/*", "/a/*"};
    static const char *const n4[] = {"param-wild", "wild"};
    static const int o1[] = {0, 1}, o2[] = {1, 0};
    const char *w1, *w2;
    add_perm(&r, p4, n4, o1, 2);
    w1 = winner(&r, "GET", "/a/b/c");
    add_perm(&r, p4, n4, o2, 2);
    w2 = winner(&r, "GET", "/a/b/c");
    CHECK(w1 && w2 && strcmp(w1, "param-wild") == 0 && strcmp(w2, w1) == 0,
          "router: /a/:x/* beats /a/* for /a/b/c, in both orders");
  }

  sn_router_init(&r);
  sn_router_add(&r, "GET", "/same/:id", h, "first");
  sn_router_add(&r, "GET", "/same/:id", h, "second");
  CHECK_STR(winner(&r, "GET", "/same/1"), "first", "router: between identical patterns the first added wins");
  sn_router_init(&r);
  sn_router_add(&r, "POST", "/same", h, "post");
  sn_router_add(&r, "GET", "/same", h, "get");
  CHECK_STR(winner(&r, "GET", "/same"), "get", "router: an identical pattern for another method does not hide the right one");
}

static void test_methods(void) {
  sn_router r;
  static const char *const l1[] = {"GET", "HEAD", "POST", "PUT"};
  static const char *const l2[] = {"POST"};
  static const char *const l3[] = {"HEAD"};
  sn_router_init(&r);
  sn_router_add(&r, "GET", "/g", h, "get");
  sn_router_add(&r, "POST", "/p", h, "post");
  sn_router_add(&r, "*", "/star", h, "star");
  sn_router_add(&r, NULL, "/null", h, "null");
  sn_router_add(&r, "HEAD", "/h", h, "head");
  CHECK_STR(winner(&r, "HEAD", "/g"), "get", "router: a GET route answers HEAD");
  CHECK_INT(match(&r, "HEAD", "/p"), -405, "router: a POST route does not answer HEAD");
  CHECK_INT(match(&r, "GET", "/h"), -405, "router: a HEAD route does not answer GET");
  CHECK(allow_is(allow, l3, 1), "router: the Allow list of a HEAD-only route is HEAD");
  CHECK_INT(match(&r, "get", "/g"), -405, "router: methods are case-sensitive");
  CHECK(winner(&r, "DELETE", "/star") && winner(&r, "BREW", "/star") && winner(&r, "GET", "/star"),
        "router: the \"*\" method matches any method");
  CHECK(winner(&r, "PATCH", "/null") && winner(&r, "HEAD", "/null"), "router: a NULL method matches any method");

  CHECK_INT(match(&r, "GET", "/nowhere"), -404, "router: a path no pattern matches is -404");
  CHECK_STR(allow, "", "router: -404 leaves the Allow list empty");
  CHECK_INT(match(&r, "DELETE", "/p"), -405, "router: a path matched for another method only is -405");
  CHECK(allow_is(allow, l2, 1), "router: the Allow list of a POST-only path is POST");

  sn_router_init(&r);
  sn_router_add(&r, "GET", "/r", h, NULL);
  sn_router_add(&r, "POST", "/r", h, NULL);
  sn_router_add(&r, "GET", "/r/:id", h, NULL); /* does not match /r */
  sn_router_add(&r, "PUT", "/r", h, NULL);
  sn_router_add(&r, "POST", "/r", h, NULL);
  sn_router_add(&r, "GET", "/:any", h, NULL);
  sn_router_add(&r, "PUT", "/*", h, NULL);
  CHECK_INT(match(&r, "DELETE", "/r"), -405, "router: DELETE on a path with GET, POST and PUT routes is -405");
  test_report(allow_is(allow, l1, 4), "router: the Allow list holds GET, HEAD, POST, PUT, each once", "got \"%s\"", allow);

  sn_router_init(&r);
  sn_router_add(&r, "POST", "/s", h, NULL);
  sn_router_add(&r, "T", "/s", h, NULL);
  sn_router_add(&r, "ST", "/s", h, NULL);
  sn_router_add(&r, "PO", "/s", h, NULL);
  sn_router_add(&r, "T", "/s", h, NULL);
  {
    static const char *const l4[] = {"POST", "T", "ST", "PO"};
    match(&r, "GET", "/s");
    test_report(allow_is(allow, l4, 4), "router: methods that are substrings of others are listed, and only once",
                "got \"%s\"", allow);
  }
  {
    /* small Allow buffers: never written past, always terminated */
    char small[16];
    int k, ok = 1;
    sn_router_init(&r);
    sn_router_add(&r, "GET", "/x", h, NULL);
    sn_router_add(&r, "POST", "/x", h, NULL);
    sn_router_add(&r, "PUT", "/x", h, NULL);
    sn_router_add(&r, "PATCH", "/x", h, NULL);
    sn_router_add(&r, "OPTIONS", "/x", h, NULL);
    for (k = 1; k <= (int) sizeof small; k++) {
      char *b = (char *) malloc((size_t) k);
      int ret;
      if (b == NULL) abort();
      memset(b, 'Z', (size_t) k);
      memset(&req, 0, sizeof req);
      req.method.ptr = "DELETE";
      req.method.len = 6;
      req.path.ptr = "/x";
      req.path.len = 2;
      ret = sn_router_match(&r, &req, b, (size_t) k);
      if (ret != -405 || memchr(b, '\0', (size_t) k) == NULL) ok = 0;
      else if (b[0] != '\0' && strncmp(b, "GET", 3) != 0) ok = 0;
      free(b);
    }
    CHECK(ok, "router: an Allow buffer of 1 to 16 bytes is never overrun and always NUL-terminated");
    memset(&req, 0, sizeof req);
    req.method.ptr = "DELETE";
    req.method.len = 6;
    req.path.ptr = "/x";
    req.path.len = 2;
    CHECK_INT(sn_router_match(&r, &req, NULL, 0), -405, "router: allow may be NULL");
  }
}

/* The Allow list of "OPTIONS *" (the server answers it, RFC 9110 9.3.7). */
static void test_allow_all(void) {
  sn_router r;
  char allow[128], tiny[8];
  sn_router_init(&r);
  sn__router_allow_all(&r, allow, sizeof allow);
  CHECK_STR(allow, "OPTIONS", "router: OPTIONS * without routes allows OPTIONS only");
  sn_router_add(&r, "GET", "/a", h, NULL);
  sn_router_add(&r, "POST", "/b", h, NULL);
  sn_router_add(&r, "POST", "/c", h, NULL);
  sn_router_add(&r, "BREW", "/pot", h, NULL);
  sn__router_allow_all(&r, allow, sizeof allow);
  CHECK_STR(allow, "GET, HEAD, POST, OPTIONS",
            "router: OPTIONS * allows every implemented method some route has (HEAD beside GET) and OPTIONS, once each");
  sn_router_add(&r, "*", "/any", h, NULL);
  sn__router_allow_all(&r, allow, sizeof allow);
  CHECK_STR(allow, "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS",
            "router: with a route for any method, OPTIONS * allows every method the server implements");
  sn__router_allow_all(&r, tiny, sizeof tiny);
  CHECK(memchr(tiny, '\0', sizeof tiny) != NULL, "router: the OPTIONS * list never overruns its buffer");
}

int main(void) {
  test_add();
  test_match();
  test_precedence();
  test_methods();
  test_allow_all();
  free(mbuf);
  free(pbuf);
  return test_summary();
}

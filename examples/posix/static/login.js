"use strict";
// The login page is static: the server sends the same file for GET /login
// (200) and for a failed POST /login (401), so the page cannot be templated.
// It reads its own navigation's HTTP status instead (Navigation Timing's
// responseStatus, in Chromium since version 109). A browser without it shows
// no message: the form is simply there again. A locked-out address (429)
// never gets here: the server answers it in text/plain.
const nav = performance.getEntriesByType("navigation")[0];
if (nav && nav.responseStatus === 401) document.getElementById("error").hidden = false;

/* logic_http_user.h - what the IM user routes share (logic_http_user.c: look-up and logout;
 * logic_http_user_login.c: registration and login). Loop thread only. */
#ifndef LOGIC_HTTP_USER_H
#define LOGIC_HTTP_USER_H

#include "logic_http.h"

/* The request's name parameter, valid per logic_user_name_ok (borrowed from req); answers 400
 * and returns NULL when it is missing or bad. */
const char *logic_http_user_name(logic_http_t *h, http_request_t *req);

/* The message of an account error: EEXIST "name taken", ENOTFOUND "no such user", else "redis
 * unavailable". */
const char *logic_http_user_error(int status);

#endif

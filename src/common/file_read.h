/* file_read.h - a whole regular file into memory: the one open/fstat/read loop of the
 * configuration files herald loads at start (PEM chains and keys) and the files it serves
 * (logic's /web/ console). Any thread.
 */
#ifndef HERALD_FILE_READ_H
#define HERALD_FILE_READ_H

#include <stddef.h>
#include <sys/types.h>

#define FILE_READ_NOFOLLOW 1 /* refuse a symbolic link as the last part of path */

/* Reads path, a regular file of at most max bytes, into a new heap buffer with a NUL after its
 * bytes (*data, *len; a file that shrinks while it is read gives what was there). *mode (may be
 * NULL) gets its st_mode. Returns 0, or -1 with *why: "cannot open: <strerror>", "not a regular
 * file of at most <max> bytes" or "read error: <strerror>" (a static or thread-local string). */
int file_read(const char *path, size_t max, int flags, char **data, size_t *len, mode_t *mode,
              const char **why);

#endif

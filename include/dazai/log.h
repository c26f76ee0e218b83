/* SPDX-License-Identifier: ISC */
#ifndef DAZAI_LOG_H
#define DAZAI_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit hook: fatal() and fatalx() call it; tests may replace it. */
typedef void (*log_exit_fn)(int);

void   log_init(const char *, int);
void   log_set_verbose(int);
int    log_verbose(void);
void   log_set_exit_hook(log_exit_fn);
void   log_nonblocking(void);
void   log_raw(const char *, size_t);
size_t log_format_ull(char *, size_t, unsigned long long, size_t);
void   log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void   log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void   log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void   log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void   fatal(int, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void fatalx(int, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));

void	  log_clock(double, char *, size_t);
double	  log_now(void);
long long log_now_ms(void);

#endif

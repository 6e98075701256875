/* fw_app.h - the platform-independent part of the firmware example. A port supplies a function that
 * writes a NUL-terminated string somewhere (semihosting, a UART, stdout on a host) and calls
 * fw_app_run(), which returns 0 when every result equals the hosted library's. */
#ifndef QLOW_FW_APP_H
#define QLOW_FW_APP_H

typedef void (*fw_write_fn)(const char *text, void *user);

int fw_app_run(fw_write_fn write, void *user);

#endif

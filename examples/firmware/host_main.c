/* host_main.c - runs the firmware example on the build machine: the library and fw_app.c are compiled
 * freestanding exactly as for the microcontroller; only this port (stdout) is hosted. */
#include <stdio.h>

#include "fw_app.h"

static void write_stdout(const char *text, void *user)
{
    (void)user;
    fputs(text, stdout);
}

int main(void) { return fw_app_run(write_stdout, NULL); }

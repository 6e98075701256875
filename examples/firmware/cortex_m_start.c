/* cortex_m_start.c - reset handler, vector table and Arm semihosting output for the Cortex-M image.
 * The image runs the platform-independent fw_app_run(), prints its report through semihosting (the
 * debugger or QEMU's -semihosting shows it) and exits with the app's status. */
#include <stdint.h>

#include "fw_app.h"

extern uint32_t _fw_data_load[], _fw_data_start[], _fw_data_end[], _fw_bss_start[], _fw_bss_end[];
extern uint32_t _fw_stack_top[];

void fw_reset(void);
static void fw_fault(void);

#define SEMIHOST_WRITE0 0x04
#define SEMIHOST_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void write_str(const char *s, void *user)
{
    (void)user;
    semihost(SEMIHOST_WRITE0, s);
}

__attribute__((noreturn)) static void fw_exit(int ok)
{
    semihost(SEMIHOST_EXIT, (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) __asm__ volatile("wfi");
}

static void fw_fault(void)
{
    write_str("fault\n", 0);
    fw_exit(0);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)_fw_stack_top, fw_reset, fw_fault, fw_fault, fw_fault, fw_fault, fw_fault,
};

void fw_reset(void)
{
    const uint32_t *src = _fw_data_load;
    for (uint32_t *d = _fw_data_start; d < _fw_data_end;) *d++ = *src++;
    for (uint32_t *d = _fw_bss_start; d < _fw_bss_end;) *d++ = 0;
    /* Grant full access to the FPU (CP10, CP11) before any floating-point instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    fw_exit(fw_app_run(write_str, 0) == 0);
}

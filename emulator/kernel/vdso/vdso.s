// elfvisor's vDSO for aarch64 guests: the four entry points Linux's arm64 vDSO exports, under
// the version LINUX_2.6.39 that glibc and musl ask for.
//
// Each time function makes the system call of the same name, so its result is the emulator's
// own, exactly. What a real vDSO does differently is kept: it writes the caller's buffers from
// user space, so a bad pointer raises SIGSEGV (at the first word it cannot write) where the
// system call would return -EFAULT. Linux serves a clock in user space only when it is one of
// the clocks `lib/vdso/gettimeofday.c` keeps data for (realtime, monotonic, monotonic-raw, the
// two coarse clocks, boottime, tai: the bit mask below); any other clock (the CPU-time clocks,
// an invalid id) goes through its fallback system call, and -EFAULT reaches the caller then.
//
// The system call numbers and EFAULT are given on the assembler's command line by the kernel
// crate's build script, from elfvisor-abi.

        .text

// Fault the way a store from user space would, on the first 16-byte object at \reg that is not
// writable: each word is loaded and stored back unchanged, so nothing the caller can see changes.
        .macro  touch16 reg
        ldr     x10, [\reg]
        str     x10, [\reg]
        ldr     x10, [\reg, #8]
        str     x10, [\reg, #8]
        .endm

// int __kernel_clock_gettime(clockid_t clock, struct timespec *ts)
        .globl  __kernel_clock_gettime
        .type   __kernel_clock_gettime, %function
        .balign 16
__kernel_clock_gettime:
        .cfi_startproc
        mov     w9, w0
        mov     x8, #NR_clock_gettime
        svc     #0
        cmn     x0, #EFAULT
        b.ne    1f
        cmp     w9, #31
        b.hi    1f
        mov     w10, #VDSO_CLOCKS
        lsr     w10, w10, w9
        tbz     w10, #0, 1f
        touch16 x1
1:      ret
        .cfi_endproc
        .size   __kernel_clock_gettime, . - __kernel_clock_gettime

// int __kernel_clock_getres(clockid_t clock, struct timespec *res); res may be NULL.
        .globl  __kernel_clock_getres
        .type   __kernel_clock_getres, %function
        .balign 16
__kernel_clock_getres:
        .cfi_startproc
        mov     w9, w0
        mov     x8, #NR_clock_getres
        svc     #0
        cmn     x0, #EFAULT
        b.ne    1f
        cmp     w9, #31
        b.hi    1f
        mov     w10, #VDSO_CLOCKS
        lsr     w10, w10, w9
        tbz     w10, #0, 1f
        cbz     x1, 1f
        touch16 x1
1:      ret
        .cfi_endproc
        .size   __kernel_clock_getres, . - __kernel_clock_getres

// int __kernel_gettimeofday(struct timeval *tv, struct timezone *tz); either may be NULL. A
// struct timezone is two 32-bit ints, eight bytes.
        .globl  __kernel_gettimeofday
        .type   __kernel_gettimeofday, %function
        .balign 16
__kernel_gettimeofday:
        .cfi_startproc
        mov     x9, x0
        mov     x8, #NR_gettimeofday
        svc     #0
        cmn     x0, #EFAULT
        b.ne    2f
        cbz     x9, 1f
        touch16 x9
1:      cbz     x1, 2f
        ldr     x10, [x1]
        str     x10, [x1]
2:      ret
        .cfi_endproc
        .size   __kernel_gettimeofday, . - __kernel_gettimeofday

// Where a signal handler whose action has no SA_RESTORER returns: rt_sigreturn. The two
// instructions are exactly `mov x8, #139; svc #0`, the sequence unwinders (libgcc's
// aarch64 fallback) recognise as a signal frame when no unwind entry covers the PC; the nop in
// front keeps PC-1 lookups of the return address inside this symbol's neighbourhood. Like
// Linux's, the symbol is untyped (STT_NOTYPE): it is code, but not a function anyone calls.
        .balign 16
        nop
        .globl  __kernel_rt_sigreturn
__kernel_rt_sigreturn:
        mov     x8, #NR_rt_sigreturn
        svc     #0
        .size   __kernel_rt_sigreturn, . - __kernel_rt_sigreturn

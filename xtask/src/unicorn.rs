//! Builds elfvisor's patched unicorn (see `emulator/engine/build.rs` for why it must be ours).
//!
//! The C sources come from the `unicorn-engine-sys` crate that cargo already downloaded; they
//! are copied under `target/unicorn-build/`, given elfvisor's small edits ([`EDITS`]), built for
//! aarch64 only with cmake + ninja in Release (-O3, whatever the cargo profile), and installed
//! under `target/unicorn/` with a marker in the pkg-config file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Keep in step with `emulator/engine/build.rs`.
const MARKER_VARIABLE: &str = "elfvisor_patch";
const MARKER_VALUE: &str = "parallel-cflags+atomic-rmw+exact-tlb-address+no-memop-exit-check+pc-sync-after-quit+pending-stop+kick-barriers+inline-exit-check+tlb-dirty-slots+fill-no-restore+jump-cache-probe+cross-page-links+no-bti+rwx-dirty+serial-switch+tlb-grow-10+linear-fast-path-4+jump-cache-inline+xregs+small-code-pages+small-tb-table+ibtc-2+page-crossing-test+rmw-one-test";
const SYS_CRATE: &str = "unicorn-engine-sys";
#[cfg(test)]
pub const MARKER_VALUE_FOR_TESTS: &str = MARKER_VALUE;
const SYS_VERSION: &str = "2.1.5";

/// One source edit: the file, the exact text it replaces (present exactly once), the new text.
struct Edit {
    file: &'static str,
    original: &'static str,
    patched: &'static str,
}

/// The edits elfvisor makes to unicorn 2.1.5 (GPL-2.0 modifications, listed in the README).
const EDITS: [Edit; 67] = [
    // Startup: the block hash table started at 32768 entries (512 KiB of buckets, zeroed at
    // each instance's start and again at every flush of all code, which elfvisor does when an
    // executable mapping changes: a dynamic loader's startup flushes many times). It grows by
    // itself (QHT_MODE_AUTO_RESIZE), so it starts at 4096 entries (64 KiB).
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "static void tb_htable_init(struct uc_struct *uc)\n{\n    unsigned int mode = QHT_MODE_AUTO_RESIZE;\n\n    qht_init(&uc->tcg_ctx->tb_ctx.htable, tb_cmp, CODE_GEN_HTABLE_SIZE, mode);",
        patched: "/* elfvisor: the block table's first size, and its size after a flush: small, as it grows\n   by itself, so starting and flushing zero less. */\n#define ELFVISOR_HTABLE_SIZE (1 << 12)\n\nstatic void tb_htable_init(struct uc_struct *uc)\n{\n    unsigned int mode = QHT_MODE_AUTO_RESIZE;\n\n    qht_init(&uc->tcg_ctx->tb_ctx.htable, tb_cmp, ELFVISOR_HTABLE_SIZE, mode);",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "    qht_reset_size(cpu->uc, &cpu->uc->tcg_ctx->tb_ctx.htable, CODE_GEN_HTABLE_SIZE);",
        patched: "    qht_reset_size(cpu->uc, &cpu->uc->tcg_ctx->tb_ctx.htable, ELFVISOR_HTABLE_SIZE);",
    },
    // Startup: the code buffer was advised for huge pages, so the first block every instance
    // (one per guest thread and process) translates made the host zero a whole 2 MiB page:
    // a quarter of the CPU time of a guest that prints one line and exits. Small pages are
    // filled as code reaches them; qemu-user's own hot code fits the TLB either way.
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "    /* Request large pages for the buffer.  */\n    qemu_madvise(buf, size, QEMU_MADV_HUGEPAGE);\n\n    return buf;\n}\n#endif /* USE_STATIC_CODE_GEN_BUFFER, WIN32, POSIX */",
        patched: "    /* elfvisor: no huge pages for the buffer: each instance's first translation would\n       make the host zero a whole 2 MiB page, which dominates a short guest's startup. */\n\n    return buf;\n}\n#endif /* USE_STATIC_CODE_GEN_BUFFER, WIN32, POSIX */",
    },
    // Guest atomics: TCG must generate parallel-safe code (exclusives, LSE) for more than one
    // vCPU; stock unicorn hard-wires the flags to 0. Parallel-safe code makes every atomic a
    // helper call, so (P8) a vCPU the embedder declares alone — one thread, no writable
    // memory shared with another process — gets plain code until it is switched back, as
    // qemu-user does until the first thread. Every caller has the vCPU as `cpu`.
    Edit {
        file: "qemu/include/exec/exec-all.h",
        original: "static inline uint32_t curr_cflags(void)\n{\n    return 0;\n}",
        patched: "static inline uint32_t curr_cflags(void)\n{\n    /* elfvisor: generate parallel-safe code so guest atomics hold across vCPUs. */\n    return CF_PARALLEL;\n}\n/* elfvisor: per vCPU; plain code only while the embedder says the vCPU runs alone. */\n#define curr_cflags() ((cpu)->elfvisor_serial ? 0u : (uint32_t)CF_PARALLEL)",
    },
    Edit {
        file: "qemu/include/hw/core/cpu.h",
        original: "    volatile sig_atomic_t tcg_exit_req;\n",
        patched: "    volatile sig_atomic_t tcg_exit_req;\n    /* elfvisor: the vCPU runs alone: atomics need not be parallel-safe (curr_cflags). */\n    bool elfvisor_serial;\n",
    },
    Edit {
        file: "uc.c",
        original: "UNICORN_EXPORT\nuc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until,",
        patched: "/* elfvisor: plain (serial) or parallel-safe code for blocks translated from now on; the\n   embedder drops the translated code when it switches. */\nUNICORN_EXPORT\nvoid uc_elfvisor_set_serial(uc_engine *uc, bool serial)\n{\n    if (uc->cpu != NULL) {\n        uc->cpu->elfvisor_serial = serial;\n    }\n}\n\nUNICORN_EXPORT\nuc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until,",
    },
    // Guest atomics, continued: stock unicorn's helpers for SWP and for LDSMAX/LDUMIN & co.
    // read and then write the word, so with two vCPUs an exchange (glibc's lock slow path,
    // its unlock) or a min/max could lose the other vCPU's write. Host atomics instead.
    Edit {
        file: "qemu/accel/tcg/atomic_template.h",
        original: "    ret = *haddr;\n    *haddr = val;\n",
        patched: "    /* elfvisor: one atomic exchange. */\n    ret = atomic_xchg__nocheck(haddr, val);\n",
    },
    Edit {
        file: "qemu/accel/tcg/atomic_template.h",
        original: "    ret = *haddr;\n    *haddr = BSWAP(val);\n",
        patched: "    /* elfvisor: one atomic exchange. */\n    ret = atomic_xchg__nocheck(haddr, BSWAP(val));\n",
    },
    Edit {
        file: "qemu/accel/tcg/atomic_template.h",
        original: "        cmp = *haddr;                                               \\\n        if (cmp == old)                                          \\\n            *haddr = new;                                           \\\n",
        patched: "        cmp = atomic_cmpxchg__nocheck(haddr, old, new);             \\\n",
    },
    Edit {
        file: "qemu/accel/tcg/atomic_template.h",
        original: "        ldn = *haddr;                                               \\\n        if (ldn == ldo)                                             \\\n            *haddr = BSWAP(new);                                    \\\n",
        patched: "        ldn = atomic_cmpxchg__nocheck(haddr, ldo, BSWAP(new));      \\\n",
    },
    // Signals: a PC written from inside a hook (sigreturn and signal delivery, served in the
    // syscall hook) makes unicorn restart its CPU loop at that PC with "do not sync the PC on
    // the next exit" still set, so the next stop from another thread or a host signal — at
    // any later block — reported the written PC with the registers of the later point, and
    // the guest re-ran code on return from its handler. The flag is spent by the restart.
    Edit {
        file: "qemu/softmmu/cpus.c",
        original: "                // reset stop_request\n                uc->stop_request = false;\n",
        patched: "                // reset stop_request\n                uc->stop_request = false;\n                /* elfvisor: the written PC is now the CPU's; later exits sync again. */\n                uc->skip_sync_pc_on_exit = false;\n",
    },
    // Faults: the TLB-fill hook gets the exact faulting address (for si_addr), not only its
    // page; the entry it returns is masked to the page below, as before.
    Edit {
        file: "qemu/softmmu/unicorn_vtlb.c",
        original: "((uc_cb_tlbevent_t)hook->callback)(uc, address & TARGET_PAGE_MASK, rw_to_mem_type(rw), &e, hook->user_data)",
        patched: "((uc_cb_tlbevent_t)hook->callback)(uc, address /* elfvisor: exact address */, rw_to_mem_type(rw), &e, hook->user_data)",
    },
    // Speed: stock unicorn calls a helper after every guest load and store, so that a memory
    // hook may stop the emulation mid-block. elfvisor installs no memory hooks; a stop request
    // is still honoured at the next block, as QEMU does. (A third of the time of a load/store
    // loop went to that helper.)
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "    if (tcg_ctx->uc->no_exit_request) {\n        return;\n    }",
        patched: "    /* elfvisor: no exit checks between instructions; blocks still check. */\n    if (1) {\n        return;\n    }",
    },
    // Stops: a stop asked while no run is in progress, or while `uc_emu_start` is still
    // resetting its stop and exit requests, was lost (unicorn ignores `uc_emu_stop` outside a
    // run and clears its requests on entry), and so was one whose exit request the CPU loop
    // cleared on its restart after a PC written in a hook. The engine keeps its own
    // pending-stop word (set before every `uc_emu_stop`) and hands unicorn its address; the CPU
    // loop reads it after a full fence before every entry to `cpu_exec`, i.e. after every reset
    // of the requests. A stop that loads the word too late for that check finds the run in
    // progress and its `cpu_exit` is not reset again before the next check. See
    // `emulator/engine/src/tcg.rs`.
    Edit {
        file: "include/uc_priv.h",
        original: "    bool stop_request;   // request to immediately stop emulation - for\n                         // uc_emu_stop()\n",
        patched: "    bool stop_request;   // request to immediately stop emulation - for\n                         // uc_emu_stop()\n    /* elfvisor: the embedder's pending-stop word; non-zero ends the run. */\n    const uint32_t *elfvisor_stop_flag;\n",
    },
    Edit {
        file: "uc.c",
        original: "UNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n{",
        patched: "/* elfvisor: registers the embedder's pending-stop word (NULL for none). */\nUNICORN_EXPORT\nvoid uc_elfvisor_set_stop_flag(uc_engine *uc, const uint32_t *flag)\n{\n    uc->elfvisor_stop_flag = flag;\n}\n\nUNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n{",
    },
    Edit {
        file: "qemu/softmmu/cpus.c",
        original: "            uc->size_recur_mem = 0;\n            r = cpu_exec(uc, cpu);\n",
        patched: "            uc->size_recur_mem = 0;\n            /* elfvisor: a pending stop ends the run before guest code; after the resets. */\n            if (uc->elfvisor_stop_flag) {\n                __atomic_thread_fence(__ATOMIC_SEQ_CST);\n                if (__atomic_load_n(uc->elfvisor_stop_flag, __ATOMIC_RELAXED)) {\n                    finish = true;\n                    break;\n                }\n            }\n            r = cpu_exec(uc, cpu);\n",
    },
    // Stops, continued: unicorn compiles QEMU's memory barriers to nothing ("we do not really
    // support multiple CPUs"), but a stop from another thread is a second CPU. The CPU loop
    // clears the block-entry exit flag and then reads `exit_request`; without a full barrier
    // between the two (QEMU has one), a `cpu_exit` landing there left `exit_request` set and
    // the flag cleared, and chained blocks (a guest's `b .`) never looked again. And
    // `cpu_exit` must publish `exit_request` before the flag that sends the CPU to read it.
    Edit {
        file: "qemu/accel/tcg/cpu-exec.c",
        original: "    cpu_neg(cpu)->icount_decr.u16.high = 0;\n",
        patched: "    cpu_neg(cpu)->icount_decr.u16.high = 0;\n    /* elfvisor: QEMU's full barrier, before exit_request is read (a stop from another thread). */\n    __atomic_thread_fence(__ATOMIC_SEQ_CST);\n",
    },
    Edit {
        file: "qemu/hw/core/cpu.c",
        original: "    cpu->tcg_exit_req = 1;\n    cpu->icount_decr_ptr->u16.high = -1;\n",
        patched: "    cpu->tcg_exit_req = 1;\n    /* elfvisor: QEMU's smp_wmb: exit_request is visible before the flag that leads to it. */\n    __atomic_thread_fence(__ATOMIC_RELEASE);\n    cpu->icount_decr_ptr->u16.high = -1;\n",
    },
    // Speed (P1): stock unicorn calls a helper at the start of every translated block to test
    // for an exit request (a third of an ALU loop's time). QEMU inlines that test: one load
    // of the CPU's exit word and a branch to an exit at the end of the block. A taken branch
    // leaves the block with TB_EXIT_REQUESTED before any of its instructions ran; the CPU loop
    // then resets the PC to the block's start and honours the request (`cpu_exit` sets that
    // word for every stop, and the pending-stop edits above keep it set until honoured).
    Edit {
        file: "qemu/include/tcg/tcg.h",
        original: "    TCGv_i32 delay_slot_flag;\n\n    TCGTempSet free_temps",
        patched: "    TCGv_i32 delay_slot_flag;\n    /* elfvisor: where a block's inline exit-request test branches to (NULL: none). */\n    TCGLabel *elfvisor_exit_label;\n\n    TCGTempSet free_temps",
    },
    Edit {
        file: "qemu/include/exec/gen-icount.h",
        original: "    TCGv_ptr puc = tcg_const_ptr(tcg_ctx, tcg_ctx->uc);\n    TCGv_i32 tmp = tcg_const_i32(tcg_ctx, 0);\n    // Unicorn:\n    //    We CANT'T use brcondi_i32 here or we will fail liveness analysis\n    //    because it marks the end of BB\n    if (tcg_ctx->delay_slot_flag != NULL) {\n        tcg_gen_mov_i32(tcg_ctx, tmp, tcg_ctx->delay_slot_flag);\n    }\n    gen_helper_check_exit_request(tcg_ctx, puc, tmp);\n    tcg_temp_free_i32(tcg_ctx, tmp);\n    tcg_temp_free_ptr(tcg_ctx, puc);\n}",
        patched: "    TCGv_ptr puc;\n    TCGv_i32 tmp;\n\n    tcg_ctx->elfvisor_exit_label = NULL;\n    if (tcg_ctx->delay_slot_flag == NULL) {\n        /* elfvisor: the exit-request word is negative while an exit is asked; nothing is\n           live yet at a block's start, so a branch is safe here. */\n        TCGv_i32 word = tcg_temp_new_i32(tcg_ctx);\n        tcg_ctx->elfvisor_exit_label = gen_new_label(tcg_ctx);\n        tcg_gen_ld_i32(tcg_ctx, word, tcg_ctx->cpu_env,\n                       offsetof(ArchCPU, neg.icount_decr.u32) - offsetof(ArchCPU, env));\n        tcg_gen_brcondi_i32(tcg_ctx, TCG_COND_LT, word, 0, tcg_ctx->elfvisor_exit_label);\n        tcg_temp_free_i32(tcg_ctx, word);\n        return;\n    }\n    puc = tcg_const_ptr(tcg_ctx, tcg_ctx->uc);\n    tmp = tcg_const_i32(tcg_ctx, 0);\n    // Unicorn:\n    //    We CANT'T use brcondi_i32 here or we will fail liveness analysis\n    //    because it marks the end of BB\n    if (tcg_ctx->delay_slot_flag != NULL) {\n        tcg_gen_mov_i32(tcg_ctx, tmp, tcg_ctx->delay_slot_flag);\n    }\n    gen_helper_check_exit_request(tcg_ctx, puc, tmp);\n    tcg_temp_free_i32(tcg_ctx, tmp);\n    tcg_temp_free_ptr(tcg_ctx, puc);\n}",
    },
    Edit {
        file: "qemu/include/exec/gen-icount.h",
        original: "    tcg_gen_exit_tb(tcg_ctx, tb, TB_EXIT_REQUESTED);\n",
        patched: "    /* elfvisor: the target of the block's inline exit-request test. */\n    if (tcg_ctx->elfvisor_exit_label != NULL) {\n        gen_set_label(tcg_ctx, tcg_ctx->elfvisor_exit_label);\n        tcg_ctx->elfvisor_exit_label = NULL;\n    }\n    tcg_gen_exit_tb(tcg_ctx, tb, TB_EXIT_REQUESTED);\n",
    },
    // Speed (P2): after translating a block unicorn marks its pages "not dirty" in the TLB,
    // so that stores to them go through the code-invalidating slow path — by walking every
    // entry of all MMU modes (a sixth of a musl start). A page's entry can only sit in its own
    // slot of the table or in the small victim table: look at those alone.
    Edit {
        file: "qemu/accel/tcg/cputlb.c",
        original: "    for (mmu_idx = 0; mmu_idx < NB_MMU_MODES; mmu_idx++) {\n        unsigned int i;\n        unsigned int n = tlb_n_entries(&env_tlb(env)->f[mmu_idx]);\n\n        for (i = 0; i < n; i++) {\n            tlb_reset_dirty_range_by_vaddr_locked(uc, &env_tlb(env)->f[mmu_idx].table[i],\n                                                  start1, length);\n        }\n",
        patched: "    for (mmu_idx = 0; mmu_idx < NB_MMU_MODES; mmu_idx++) {\n        unsigned int i;\n        /* elfvisor: only the slots the range's pages hash to. */\n        target_ulong first = start1 & TARGET_PAGE_MASK;\n        target_ulong pages = length == 0 ? 0\n            : ((start1 + length - 1 - first) >> TARGET_PAGE_BITS) + 1;\n        target_ulong p;\n\n        for (p = 0; p < pages; p++) {\n            tlb_reset_dirty_range_by_vaddr_locked(\n                uc, tlb_entry(env, mmu_idx, first + (p << TARGET_PAGE_BITS)), start1, length);\n        }\n",
    },
    // Speed (P3): the TLB-fill path restored the guest state (a search of the block's
    // instruction table) before every fill, even one that succeeds. elfvisor's fill hook
    // reads no guest register; a refused fill still restores it before the fault is raised.
    Edit {
        file: "qemu/softmmu/unicorn_vtlb.c",
        original: "    cpu_restore_state(cs, retaddr, false);\n\n    HOOK_FOREACH(uc, hook, UC_HOOK_TLB_FILL) {",
        patched: "    /* elfvisor: the state is restored only for a refused fill (below). */\n\n    HOOK_FOREACH(uc, hook, UC_HOOK_TLB_FILL) {",
    },
    Edit {
        file: "qemu/softmmu/unicorn_vtlb.c",
        original: "tlb_miss:\n    if (probe) {\n        return false;\n    }",
        patched: "tlb_miss:\n    /* elfvisor: the restore a refused fill needs (the raise below restores it too). */\n    cpu_restore_state(cs, retaddr, false);\n    if (probe) {\n        return false;\n    }",
    },
    // Speed (P4): an indirect branch or return looks its target up through
    // `cpu_get_tb_cpu_state`, an out-of-line call that recomputes what an aarch64 vCPU keeps
    // cached in `hflags`. When nothing else contributes to the flags (AArch64 state, no
    // single-step, no BTI), probe the jump cache directly with the same comparisons as
    // `tb_lookup__cpu_state`; anything else, or a miss, takes the full lookup as before.
    Edit {
        file: "qemu/accel/tcg/tcg-runtime.c",
        original: "    struct uc_struct *uc = (struct uc_struct *)cpu->uc;\n\n    tb = tb_lookup__cpu_state(cpu, &pc, &cs_base, &flags, curr_cflags());\n",
        patched: "    struct uc_struct *uc = (struct uc_struct *)cpu->uc;\n\n#ifdef TARGET_AARCH64\n    /* elfvisor: the jump cache probed with the cached flags (same tests as the full lookup). */\n    if (FIELD_EX32(env->hflags, TBFLAG_ANY, AARCH64_STATE) &&\n        !FIELD_EX32(env->hflags, TBFLAG_ANY, SS_ACTIVE) &&\n        !cpu_isar_feature(aa64_bti, env_archcpu(env))) {\n        uint32_t cf_mask = (curr_cflags() & ~CF_CLUSTER_MASK) |\n                           ((uint32_t)cpu->cluster_index << CF_CLUSTER_SHIFT);\n        pc = env->pc;\n        tb = cpu->tb_jmp_cache[tb_jmp_cache_hash_func(uc, pc)];\n        if (tb && tb->pc == pc && tb->cs_base == 0 && tb->flags == env->hflags &&\n            tb->trace_vcpu_dstate == *cpu->trace_dstate &&\n            (tb_cflags(tb) & (CF_HASH_MASK | CF_INVALID)) == cf_mask) {\n            elfvisor_ibtc_fill(cpu, tb);\n            return tb->tc.ptr;\n        }\n    }\n#endif\n    tb = tb_lookup__cpu_state(cpu, &pc, &cs_base, &flags, curr_cflags());\n",
    },
    // Speed (P5): a direct branch to another page went through the out-of-line block lookup
    // every time, and a block spanning two pages was never chained, because system emulation
    // must notice a page remapped under a chained jump. elfvisor drops all translated code
    // whenever an executable mapping changes (see `flush_code` in the engine), chains
    // included, so branches may chain across pages, as qemu-user's do.
    Edit {
        file: "qemu/target/arm/translate-a64.c",
        original: "    /* Only link tbs from inside the same guest page */\n    if ((s->base.tb->pc & TARGET_PAGE_MASK) != (dest & TARGET_PAGE_MASK)) {\n        return false;\n    }\n",
        patched: "    /* elfvisor: blocks link across pages; code-mapping changes drop all code. */\n",
    },
    Edit {
        file: "qemu/accel/tcg/cpu-exec.c",
        original: "    if (tb->page_addr[1] != -1) {\n        last_tb = NULL;\n    }\n",
        patched: "    /* elfvisor: two-page blocks are linked too (code-mapping changes drop all code). */\n",
    },
    // Speed (P6): the `max` CPU has BTI, so the translator splits blocks at branch targets
    // and keys them on the branch type: a second block for every BR/BLR target. elfvisor
    // does not advertise BTI to the guest (its BTI instructions stay hints).
    Edit {
        file: "qemu/target/arm/cpu64.c",
        original: "    FIELD_DP64(t, ID_AA64PFR1, BT, 1, t);\n",
        patched: "    /* elfvisor: no BTI (not advertised to the guest; BTI instructions are hints). */\n    FIELD_DP64(t, ID_AA64PFR1, BT, 0, t);\n",
    },
    // Speed (P7): a store to a page that the TLB grants execute permission (the arena is one
    // RWX region to unicorn, and executable stacks and JIT heaps are RWX to the guest) took
    // the code-invalidating slow path forever, even once the page held no translated code
    // (nine times slower stores). As QEMU does, the page turns fast again once no block is
    // left on it; translating a block there marks it slow again (the edit above).
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "/* user-mode: call with mmap_lock held */\nvoid tb_check_watchpoint(CPUState *cpu, uintptr_t retaddr)",
        patched: "/* elfvisor: whether any translated block lies on the page of `addr`. */\nbool elfvisor_page_has_code(struct uc_struct *uc, tb_page_addr_t addr)\n{\n    PageDesc *p = page_find(uc, addr >> TARGET_PAGE_BITS);\n\n    return p != NULL && p->first_tb != (uintptr_t)NULL;\n}\n\n/* user-mode: call with mmap_lock held */\nvoid tb_check_watchpoint(CPUState *cpu, uintptr_t retaddr)",
    },
    Edit {
        file: "qemu/accel/tcg/cputlb.c",
        original: "            !(tlbe->addr_code != -1) &&\n",
        patched: "            /* elfvisor: an executable page once no code is left on it. */\n            (tlbe->addr_code == -1 || !elfvisor_page_has_code(cpu->uc, ram_addr)) &&\n",
    },
    Edit {
        file: "qemu/accel/tcg/cputlb.c",
        original: "static void notdirty_write(CPUState *cpu, vaddr mem_vaddr, unsigned size,",
        patched: "bool elfvisor_page_has_code(struct uc_struct *uc, tb_page_addr_t addr);\n\nstatic void notdirty_write(CPUState *cpu, vaddr mem_vaddr, unsigned size,",
    },
    // Speed (P9): QEMU sizes each MMU mode's TLB (256 entries at first) only when that mode is
    // flushed, growing it when more than 70% of it was in use. A guest that touches more than
    // 256 pages between two address-space changes therefore kept 256 entries and refilled
    // through the fill hook on most accesses (random reads over 4 MiB ran 18 times slower than
    // under qemu-user). A fill that is about to evict another page's entry from a table more
    // than 70% full now grows the table first, the way the next flush would (the same
    // `tlb_mmu_resize_locked`, which also shrinks it again at a flush once use falls), up to
    // 2^16 entries (256 MiB of guest pages; 5 MiB of table). Every caller of a fill looks its
    // entry up again afterwards, as it must for a fill that flushes.
    Edit {
        file: "qemu/accel/tcg/cputlb.c",
        original: "    index = tlb_index(env, mmu_idx, vaddr_page);\n    te = tlb_entry(env, mmu_idx, vaddr_page);\n\n    /* Note that the tlb is no longer clean.  */\n",
        patched: "    /* elfvisor: a crowded table grows before it evicts (resized by the flush). */\n    te = tlb_entry(env, mmu_idx, vaddr_page);\n    if (!tlb_entry_is_empty(te) && !tlb_hit_page_anyprot(env->uc, te, vaddr_page) &&\n        tlb_n_entries(&tlb->f[mmu_idx]) < ((size_t)1 << 16) &&\n        desc->n_used_entries * 10 > tlb_n_entries(&tlb->f[mmu_idx]) * 7) {\n        tlb_flush_one_mmuidx_locked(env, mmu_idx, get_clock_realtime());\n    }\n    index = tlb_index(env, mmu_idx, vaddr_page);\n    te = tlb_entry(env, mmu_idx, vaddr_page);\n\n    /* Note that the tlb is no longer clean.  */\n",
    },
    // Speed, stage 2 (a linear fast path): a guest load or store tested the softmmu TLB
    // (two loads from the CPU state, the entry's compare and its addend: the data address
    // depended on three loads). Now it tests one bit of its page's byte in the vCPU's own page
    // table (read, write; an access of several bytes that may run onto the next page also
    // tests inline whether it does: a bit for "this page and the next" sent every such access
    // on the last page of a mapping, the top of the stack among them, out of line, a fifth of
    // an interpreter loop's time) and accesses `base + address` directly. The
    // engine fills the table from the TLB-fill hook's grants and empties it with every TLB
    // flush. Outside the arena, a tagged address, a clear bit, an access onto the next page, or a misaligned address where
    // the access must be aligned (exclusives, LSE atomics: tested inline, as qemu-user does)
    // take the TLB lookup, moved out of line, which decides and faults exactly as before. A
    // page holding translated code has no write bit (the last two edits: translating a block
    // clears it, and the engine asks before setting it on an executable page), so stores to
    // code keep reaching the code-invalidating path. Where the host allows, the engine keeps
    // every vCPU thread's GS base at the arena and the table below 2 GiB, so the access is one
    // `%gs:(address)` instruction and the test names the table by a displacement (without them,
    // two 64-bit constants were loaded per access).
    Edit {
        file: "include/uc_priv.h",
        original: "    int size_recur_mem; // size for mem access when in a recursive call\n",
        patched: "    int size_recur_mem; // size for mem access when in a recursive call\n    /* elfvisor: the linear fast path (tcg/i386): one byte per guest page (see the engine's\n       FastPages), the host address of guest address 0, the number of pages; NULL: off. */\n    const uint8_t *elfvisor_fast_table;\n    uintptr_t elfvisor_fast_base;\n    uint64_t elfvisor_fast_pages;\n    /* elfvisor: the embedder keeps the GS base of every thread that runs this instance at\n       elfvisor_fast_base, so a direct access is %gs:(address). */\n    bool elfvisor_fast_gs;\n",
    },
    Edit {
        file: "uc.c",
        original: "UNICORN_EXPORT\nuc_err uc_close(uc_engine *uc)\n{",
        patched: "/* elfvisor: the linear fast path for blocks translated from now on (see uc_priv.h). */\nUNICORN_EXPORT\nvoid uc_elfvisor_set_fast_path(uc_engine *uc, const uint8_t *table, uintptr_t base,\n                               uint64_t pages, bool gs)\n{\n    uc->elfvisor_fast_table = table;\n    uc->elfvisor_fast_base = base;\n    uc->elfvisor_fast_pages = pages;\n    uc->elfvisor_fast_gs = gs;\n}\n\nUNICORN_EXPORT\nuc_err uc_close(uc_engine *uc)\n{",
    },
    Edit {
        file: "qemu/tcg/tcg-ldst.inc.c",
        original: "    tcg_insn_unit *label_ptr[2]; /* label pointers to be updated */\n",
        patched: "    tcg_insn_unit *label_ptr[2]; /* label pointers to be updated */\n    /* elfvisor: the linear fast path's branches out of line (count 0: no fast path). */\n    tcg_insn_unit *elfvisor_fast_ptr[4];\n    int elfvisor_fast_n;\n    /* elfvisor: the out-of-line path first sets (1) or clears (2) the read-modify-write's\n       pending byte; 0: neither. */\n    int elfvisor_rmw;\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "static void add_qemu_ldst_label(TCGContext *s, bool is_ld, bool is_64,",
        patched: "static TCGLabelQemuLdst *add_qemu_ldst_label(TCGContext *s, bool is_ld, bool is_64,",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "    label->label_ptr[0] = label_ptr[0];\n    if (TARGET_LONG_BITS > TCG_TARGET_REG_BITS) {\n        label->label_ptr[1] = label_ptr[1];\n    }\n}\n",
        patched: "    label->label_ptr[0] = label_ptr[0];\n    if (TARGET_LONG_BITS > TCG_TARGET_REG_BITS) {\n        label->label_ptr[1] = label_ptr[1];\n    }\n    /* elfvisor: no fast path unless the caller records one. */\n    label->elfvisor_fast_n = 0;\n    label->elfvisor_rmw = 0;\n    return label;\n}\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "static bool tcg_out_qemu_ld_slow_path(TCGContext *s, TCGLabelQemuLdst *l)\n{\n    TCGMemOpIdx oi = l->oi;\n    MemOp opc = get_memop(oi);\n    TCGReg data_reg;\n    tcg_insn_unit **label_ptr = &l->label_ptr[0];\n    int rexw = (l->type == TCG_TYPE_I64 ? P_REXW : 0);\n",
        patched: "/* elfvisor: the linear fast path. A guest load or store tests its page's byte in the\n   embedder's table and then accesses host memory at base + address; anything else goes to the\n   TLB lookup, moved out of line, which decides exactly as before. The byte's bits: 1, the guest\n   may read the page; 2, write it. An access of more than one byte that may run onto the next\n   page (not aligned to its size) also tests, inline, whether it does, and one that does takes\n   the TLB lookup. */\nstatic void tcg_out_qemu_ld_direct(TCGContext *s, TCGReg datalo, TCGReg datahi,\n                                   TCGReg base, int index, intptr_t ofs,\n                                   int seg, bool is64, MemOp memop);\nstatic void tcg_out_qemu_st_direct(TCGContext *s, TCGReg datalo, TCGReg datahi,\n                                   TCGReg base, int index, intptr_t ofs,\n                                   int seg, MemOp memop);\n\n/* elfvisor: whether an access takes the fast path: a table is set and no memory hook wants\n   every access. An alignment requirement is tested inline; a misaligned address goes to the\n   TLB lookup, whose compare includes the alignment bits, so the helper raises the fault. */\nstatic bool elfvisor_fast_ok(TCGContext *s, MemOp opc)\n{\n    struct uc_struct *uc = s->uc;\n\n    return TCG_TARGET_REG_BITS == 64 && TARGET_LONG_BITS == 64 &&\n           uc->elfvisor_fast_table != NULL && !tcg_uc_has_hookmem(s) &&\n           get_alignment_bits(opc) < TARGET_PAGE_BITS;\n}\n\n/* elfvisor: whether an access stays on its page: a one-byte access, or one aligned to at least\n   its size (once its alignment is tested). */\nstatic bool elfvisor_fast_own_page(MemOp opc)\n{\n    return (opc & MO_SIZE) == 0 || get_alignment_bits(opc) >= (unsigned)(opc & MO_SIZE);\n}\n\n/* elfvisor: a forward jcc whose target is patched later; returns where. */\nstatic tcg_insn_unit *elfvisor_jcc_forward(TCGContext *s, int cond)\n{\n    tcg_insn_unit *ptr;\n\n    tcg_out_opc(s, OPC_JCC_long + cond, 0, 0, 0);\n    ptr = s->code_ptr;\n    s->code_ptr += 4;\n    return ptr;\n}\n\n/* elfvisor: testb $bit, table[TCG_REG_L0]: with the table's address as a 32-bit displacement\n   when the embedder placed it below 2 GiB, else through TCG_REG_L1 = the table. */\nstatic void elfvisor_fast_test(TCGContext *s, int bit)\n{\n    uintptr_t table = (uintptr_t)s->uc->elfvisor_fast_table;\n\n    if (table <= INT32_MAX) {\n        tcg_out_modrm_sib_offset(s, 0xf6 /* TEST r/m8, imm8 */, 0, -1, TCG_REG_L0, 0, table);\n    } else {\n        tcg_out_movi(s, TCG_TYPE_PTR, TCG_REG_L1, table);\n        tcg_out_modrm_sib_offset(s, 0xf6 /* TEST r/m8, imm8 */, 0, TCG_REG_L1, TCG_REG_L0, 0, 0);\n    }\n    tcg_out8(s, bit);\n}\n\n/* elfvisor: the page's own bit (1 or 2) for a load or a store. */\nstatic int elfvisor_fast_bit(bool is_ld)\n{\n    return is_ld ? 1 : 2;\n}\n\n/* elfvisor: a read-modify-write's hint bits (memop.h), taken off `*oi` and `*opc`. */\nstatic MemOp elfvisor_rmw_hint(TCGMemOpIdx *oi, MemOp *opc)\n{\n    MemOp hint = *opc & (MO_ELFVISOR_RMW_LD | MO_ELFVISOR_RMW_ST);\n\n    *opc &= ~hint;\n    *oi = make_memop_idx(*opc, get_mmuidx(*oi));\n    return hint;\n}\n\n/* elfvisor: the pending byte's address when translated code can name it by a displacement,\n   and a read-modify-write may use one test for its load and its store; else 0. */\nstatic uintptr_t elfvisor_rmw_byte(TCGContext *s, MemOp opc)\n{\n    uintptr_t byte = (uintptr_t)s->uc->elfvisor_rmw_pending;\n\n    return byte <= INT32_MAX && elfvisor_fast_own_page(opc) ? byte : 0;\n}\n\n/* elfvisor: movb $value, pending (MOV r/m8, imm8). No base register: rm -2 tells a\n   rip-relative encoding that one byte of immediate follows the displacement. */\nstatic void elfvisor_rmw_mark(TCGContext *s, int value)\n{\n    tcg_out_modrm_sib_offset(s, 0xc6, 0, -2, -1, 0, (uintptr_t)s->uc->elfvisor_rmw_pending);\n    tcg_out8(s, value);\n}\n\n/* elfvisor: the fast path's test, inline. Falls through to the access (with TCG_REG_L1 = the\n   host address of guest address 0 unless the GS base holds it); else branches out of line to\n   the TLB lookup: ptrs[0] outside the arena (a tagged address too), ptrs[1] the page's bit is\n   clear, ptrs[2] misaligned (NULL when no alignment is required), ptrs[3] the access runs onto\n   the next page (NULL when it cannot). Clobbers TCG_REG_L0 and TCG_REG_L1, which qemu_ld/st\n   keep free. */\nstatic void elfvisor_fast_check(TCGContext *s, TCGReg addrlo, MemOp opc, int bit,\n                                tcg_insn_unit **ptrs)\n{\n    struct uc_struct *uc = s->uc;\n    const TCGReg r0 = TCG_REG_L0;\n    unsigned a_bits = get_alignment_bits(opc);\n\n    ptrs[2] = NULL;\n    ptrs[3] = NULL;\n    if (a_bits > 0) {\n        /* test $mask, addr (TEST r/m32, imm32) */\n        tcg_out_modrm(s, OPC_GRP3_Ev, 0, addrlo);\n        tcg_out32(s, (1u << a_bits) - 1);\n        ptrs[2] = elfvisor_jcc_forward(s, JCC_JNE);\n    }\n    tcg_out_mov(s, TCG_TYPE_I64, r0, addrlo);\n    tcg_out_shifti(s, SHIFT_SHR + P_REXW, r0, TARGET_PAGE_BITS);\n    tgen_arithi(s, ARITH_CMP + P_REXW, r0, (tcg_target_long)uc->elfvisor_fast_pages, 0);\n    ptrs[0] = elfvisor_jcc_forward(s, JCC_JAE);\n    elfvisor_fast_test(s, bit);\n    ptrs[1] = elfvisor_jcc_forward(s, JCC_JE);\n    if (!elfvisor_fast_own_page(opc)) {\n        /* The first and the last byte's addresses differ in the page-size bit exactly when the\n           access runs onto the next page: lea size-1(addr), r1d; xor addr, r1d; test. (A\n           table bit for \"this page and the next\" would send every wider access on the last\n           page of a mapping, such as the top of the stack, out of line instead.) */\n        tcg_out_modrm_offset(s, OPC_LEA, TCG_REG_L1, addrlo, (1 << (opc & MO_SIZE)) - 1);\n        tgen_arithr(s, ARITH_XOR, TCG_REG_L1, addrlo);\n        tcg_out_modrm(s, OPC_GRP3_Ev, 0, TCG_REG_L1);\n        tcg_out32(s, TARGET_PAGE_SIZE);\n        ptrs[3] = elfvisor_jcc_forward(s, JCC_JNE);\n    }\n    if (!uc->elfvisor_fast_gs) {\n        tcg_out_movi(s, TCG_TYPE_PTR, TCG_REG_L1, uc->elfvisor_fast_base);\n    }\n}\n\n/* elfvisor: the direct access of guest address `addr`: %gs:(addr) when the GS base is the host\n   address of guest address 0, else (TCG_REG_L1, addr) with TCG_REG_L1 = that address. */\nstatic void elfvisor_fast_direct(TCGContext *s, bool is_ld, TCGReg datalo, TCGReg datahi,\n                                 TCGReg addr, bool is64, MemOp opc)\n{\n    if (s->uc->elfvisor_fast_gs) {\n        if (is_ld) {\n            tcg_out_qemu_ld_direct(s, datalo, datahi, addr, -1, 0, P_GS, is64, opc);\n        } else {\n            tcg_out_qemu_st_direct(s, datalo, datahi, addr, -1, 0, P_GS, opc);\n        }\n    } else if (is_ld) {\n        tcg_out_qemu_ld_direct(s, datalo, datahi, TCG_REG_L1, addr, 0, 0, is64, opc);\n    } else {\n        tcg_out_qemu_st_direct(s, datalo, datahi, TCG_REG_L1, addr, 0, 0, opc);\n    }\n}\n\n/* elfvisor: the access itself, at base (TCG_REG_L1) + index, or at TCG_REG_L1 (index -1). */\nstatic void elfvisor_fast_access(TCGContext *s, TCGLabelQemuLdst *l, int index)\n{\n    MemOp opc = get_memop(l->oi);\n\n    if (l->is_ld) {\n        tcg_out_qemu_ld_direct(s, l->datalo_reg, l->datahi_reg, TCG_REG_L1, index, 0, 0,\n                               l->type == TCG_TYPE_I64, opc);\n    } else {\n        tcg_out_qemu_st_direct(s, l->datalo_reg, l->datahi_reg, TCG_REG_L1, index, 0, 0, opc);\n    }\n}\n\n/* elfvisor: the fast path's out-of-line part, at the end of the block: the TLB lookup and\n   access as before, returning after the inline access; a TLB miss goes on to the helper call\n   that the slow path emits next. */\nstatic void elfvisor_fast_miss(TCGContext *s, TCGLabelQemuLdst *l)\n{\n    MemOp opc = get_memop(l->oi);\n    int i;\n\n    for (i = 0; i < 4; i++) {\n        if (l->elfvisor_fast_ptr[i] != NULL) {\n            tcg_patch32(l->elfvisor_fast_ptr[i], s->code_ptr - l->elfvisor_fast_ptr[i] - 4);\n        }\n    }\n    if (l->elfvisor_rmw != 0) {\n        elfvisor_rmw_mark(s, l->elfvisor_rmw == 1);\n    }\n    tcg_out_tlb_load(s, l->addrlo_reg, l->addrhi_reg, get_mmuidx(l->oi), opc, l->label_ptr,\n                     l->is_ld ? offsetof(CPUTLBEntry, addr_read)\n                              : offsetof(CPUTLBEntry, addr_write));\n    elfvisor_fast_access(s, l, -1);\n    tcg_out_jmp(s, l->raddr);\n}\n\nstatic bool tcg_out_qemu_ld_slow_path(TCGContext *s, TCGLabelQemuLdst *l)\n{\n    TCGMemOpIdx oi = l->oi;\n    MemOp opc = get_memop(oi);\n    TCGReg data_reg;\n    tcg_insn_unit **label_ptr = &l->label_ptr[0];\n    int rexw = (l->type == TCG_TYPE_I64 ? P_REXW : 0);\n\n    /* elfvisor: the fast path's way to the TLB lookup, before the helper call. */\n    if (l->elfvisor_fast_n > 0) {\n        elfvisor_fast_miss(s, l);\n    }\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "static bool tcg_out_qemu_st_slow_path(TCGContext *s, TCGLabelQemuLdst *l)\n{\n    TCGMemOpIdx oi = l->oi;\n    MemOp opc = get_memop(oi);\n    MemOp s_bits = opc & MO_SIZE;\n    tcg_insn_unit **label_ptr = &l->label_ptr[0];\n    TCGReg retaddr;\n",
        patched: "static bool tcg_out_qemu_st_slow_path(TCGContext *s, TCGLabelQemuLdst *l)\n{\n    TCGMemOpIdx oi = l->oi;\n    MemOp opc = get_memop(oi);\n    MemOp s_bits = opc & MO_SIZE;\n    tcg_insn_unit **label_ptr = &l->label_ptr[0];\n    TCGReg retaddr;\n\n    /* elfvisor: the fast path's way to the TLB lookup, before the helper call. */\n    if (l->elfvisor_fast_n > 0) {\n        elfvisor_fast_miss(s, l);\n    }\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "    mem_index = get_mmuidx(oi);\n\n    tcg_out_tlb_load(s, addrlo, addrhi, mem_index, opc,\n                     label_ptr, offsetof(CPUTLBEntry, addr_read));\n",
        patched: "    mem_index = get_mmuidx(oi);\n\n    /* elfvisor: a read-modify-write's hint bits (memop.h) off the memop, whatever path the\n       load takes. */\n    MemOp hint = elfvisor_rmw_hint(&oi, &opc);\n    s->elfvisor_rmw_armed = false;\n\n    /* elfvisor: the linear fast path; the TLB lookup moves out of line. A read-modify-write's\n       load tests the write bit (a page the table lets the guest write it lets it read) and\n       arms the store after it; leaving the fast path it sets the pending byte, which sends\n       that store out of line too. */\n    if (elfvisor_fast_ok(s, opc)) {\n        tcg_insn_unit *fast[4];\n        TCGLabelQemuLdst *l;\n        bool rmw = (hint & MO_ELFVISOR_RMW_LD) && elfvisor_rmw_byte(s, opc) != 0;\n\n        elfvisor_fast_check(s, addrlo, opc, elfvisor_fast_bit(!rmw), fast);\n        elfvisor_fast_direct(s, true, datalo, datahi, addrlo, is64, opc);\n        label_ptr[0] = label_ptr[1] = NULL;\n        l = add_qemu_ldst_label(s, true, is64, oi, datalo, datahi, addrlo, addrhi,\n                                s->code_ptr, label_ptr);\n        l->elfvisor_fast_ptr[0] = fast[0];\n        l->elfvisor_fast_ptr[1] = fast[1];\n        l->elfvisor_fast_ptr[2] = fast[2];\n        l->elfvisor_fast_ptr[3] = fast[3];\n        l->elfvisor_fast_n = 4;\n        l->elfvisor_rmw = rmw ? 1 : 0;\n        s->elfvisor_rmw_armed = rmw;\n        return;\n    }\n\n    tcg_out_tlb_load(s, addrlo, addrhi, mem_index, opc,\n                     label_ptr, offsetof(CPUTLBEntry, addr_read));\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "    mem_index = get_mmuidx(oi);\n\n    tcg_out_tlb_load(s, addrlo, addrhi, mem_index, opc,\n                     label_ptr, offsetof(CPUTLBEntry, addr_write));\n",
        patched: "    mem_index = get_mmuidx(oi);\n\n    /* elfvisor: a read-modify-write's hint bits (memop.h) off the memop, whatever path the\n       store takes, and whether the load before it armed it. */\n    MemOp hint = elfvisor_rmw_hint(&oi, &opc);\n    bool armed = s->elfvisor_rmw_armed;\n    s->elfvisor_rmw_armed = false;\n\n    /* elfvisor: a read-modify-write's store right after its load on the fast path: that\n       load's test covers this store's (same address, aligned, the write bit), unless it left\n       the fast path, which sets the pending byte; the out-of-line path clears it. */\n    if ((hint & MO_ELFVISOR_RMW_ST) && armed && elfvisor_fast_ok(s, opc) &&\n        elfvisor_rmw_byte(s, opc) != 0) {\n        tcg_insn_unit *fast[4] = { NULL, NULL, NULL, NULL };\n        TCGLabelQemuLdst *l;\n\n        /* cmpb $0, pending (CMP r/m8, imm8, one byte after the displacement); jne out of\n           line */\n        tcg_out_modrm_sib_offset(s, 0x80, ARITH_CMP, -2, -1, 0,\n                                 (uintptr_t)s->uc->elfvisor_rmw_pending);\n        tcg_out8(s, 0);\n        fast[0] = elfvisor_jcc_forward(s, JCC_JNE);\n        if (!s->uc->elfvisor_fast_gs) {\n            tcg_out_movi(s, TCG_TYPE_PTR, TCG_REG_L1, s->uc->elfvisor_fast_base);\n        }\n        elfvisor_fast_direct(s, false, datalo, datahi, addrlo, is64, opc);\n        label_ptr[0] = label_ptr[1] = NULL;\n        l = add_qemu_ldst_label(s, false, is64, oi, datalo, datahi, addrlo, addrhi,\n                                s->code_ptr, label_ptr);\n        l->elfvisor_fast_ptr[0] = fast[0];\n        l->elfvisor_fast_ptr[1] = NULL;\n        l->elfvisor_fast_ptr[2] = NULL;\n        l->elfvisor_fast_ptr[3] = NULL;\n        l->elfvisor_fast_n = 4;\n        l->elfvisor_rmw = 2;\n        return;\n    }\n\n    /* elfvisor: the linear fast path; the TLB lookup moves out of line. */\n    if (elfvisor_fast_ok(s, opc)) {\n        tcg_insn_unit *fast[4];\n        TCGLabelQemuLdst *l;\n\n        elfvisor_fast_check(s, addrlo, opc, elfvisor_fast_bit(false), fast);\n        elfvisor_fast_direct(s, false, datalo, datahi, addrlo, is64, opc);\n        label_ptr[0] = label_ptr[1] = NULL;\n        l = add_qemu_ldst_label(s, false, is64, oi, datalo, datahi, addrlo, addrhi,\n                                s->code_ptr, label_ptr);\n        l->elfvisor_fast_ptr[0] = fast[0];\n        l->elfvisor_fast_ptr[1] = fast[1];\n        l->elfvisor_fast_ptr[2] = fast[2];\n        l->elfvisor_fast_ptr[3] = fast[3];\n        l->elfvisor_fast_n = 4;\n        return;\n    }\n\n    tcg_out_tlb_load(s, addrlo, addrhi, mem_index, opc,\n                     label_ptr, offsetof(CPUTLBEntry, addr_write));\n",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "    if (!page_already_protected) {\n        tlb_protect_code(uc, page_addr);\n    }\n}",
        patched: "    /* elfvisor: a page holding code loses its write bit in the linear fast path's table, so\n       stores to it reach the code-invalidating path (the arena is the only RAM, at address 0:\n       a RAM address is the guest address). */\n    if (uc->elfvisor_fast_table != NULL &&\n        (page_addr >> TARGET_PAGE_BITS) < uc->elfvisor_fast_pages) {\n        uint8_t *table = (uint8_t *)uc->elfvisor_fast_table;\n        uint64_t page = page_addr >> TARGET_PAGE_BITS;\n\n        if (table[page] & 2) {\n            table[page] &= ~2;\n        }\n    }\n    if (!page_already_protected) {\n        tlb_protect_code(uc, page_addr);\n    }\n}",
    },
    Edit {
        file: "uc.c",
        original: "UNICORN_EXPORT\nuc_err uc_mem_regions(uc_engine *uc, uc_mem_region **regions, uint32_t *count)",
        patched: "/* elfvisor: whether translated code lies on the page of guest address `addr` (translate-all.c;\n   the arena is the only RAM, at address 0). */\nbool elfvisor_page_has_code(struct uc_struct *uc, uint64_t addr);\n\nUNICORN_EXPORT\nbool uc_elfvisor_page_has_code(uc_engine *uc, uint64_t addr)\n{\n    return elfvisor_page_has_code(uc, addr);\n}\n\nUNICORN_EXPORT\nuc_err uc_mem_regions(uc_engine *uc, uc_mem_region **regions, uint32_t *count)",
    },
    // Speed, stage 3 (dispatch): an indirect branch or return called `helper_lookup_tb_ptr`
    // (a quarter of an interpreter loop's time, and a third of that in the hash-table lookup
    // behind it). Two changes. The jump cache's slot was picked by system emulation's hash,
    // which keeps a page's blocks in 64 slots of 4,096 so a TLB flush of one page can clear
    // them: the blocks of an interpreter's hot pages evicted one another. elfvisor never needs
    // that (its code mappings only change with all translated code dropped), so the slot comes
    // from every bit of the page offset and page number, as qemu-user's does, and clearing a
    // page's slots looks at the whole cache. And the block's end probes the jump cache inline,
    // with the helper's own tests, and jumps straight to the block it finds; a miss jumps to a
    // stub after the epilogue that calls the helper (globals are saved at a block's end, the
    // stack is the block's) and jumps where it says.
    Edit {
        file: "qemu/include/exec/tb-hash.h",
        original: "{\n    target_ulong tmp;\n    tmp = pc ^ (pc >> (TARGET_PAGE_BITS - TB_JMP_PAGE_BITS));\n    return (((tmp >> (TARGET_PAGE_BITS - TB_JMP_PAGE_BITS)) & TB_JMP_PAGE_MASK)\n           | (tmp & TB_JMP_ADDR_MASK));\n}\n",
        patched: "{\n    /* elfvisor: every bit of the page offset and of the page number picks the slot, so that the\n       blocks of a page spread over the whole cache instead of 64 slots (tb_jmp_cache_clear_page\n       then looks at every slot). */\n    return (pc ^ (pc >> TB_JMP_CACHE_BITS)) & (TB_JMP_CACHE_SIZE - 1);\n}\n",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "{\n    unsigned int i, i0 = tb_jmp_cache_hash_page(cpu->uc, page_addr);\n\n    for (i = 0; i < TB_JMP_PAGE_SIZE; i++) {\n        cpu->tb_jmp_cache[i0 + i] = NULL;\n    }\n",
        patched: "{\n    /* elfvisor: the slots of a page's blocks are spread over the cache (tb-hash.h). */\n    struct uc_struct *uc = cpu->uc;\n    unsigned int i;\n\n    for (i = 0; i < TB_JMP_CACHE_SIZE; i++) {\n        TranslationBlock *tb = cpu->tb_jmp_cache[i];\n\n        if (tb != NULL && (tb->pc & TARGET_PAGE_MASK) == (page_addr & TARGET_PAGE_MASK)) {\n            cpu->tb_jmp_cache[i] = NULL;\n        }\n    }\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "\nvoid tcg_gen_lookup_and_goto_ptr(TCGContext *tcg_ctx)\n{\n#if TCG_TARGET_HAS_goto_ptr\n        TCGv_ptr ptr;\n\n        ptr = tcg_temp_new_ptr(tcg_ctx);\n",
        patched: "\n#if defined(TARGET_AARCH64) && UINTPTR_MAX == UINT64_MAX\n/* elfvisor: the vCPU's indirect-branch cache (uc_priv.h) probed inline: the slot of\n   the target pc, picked as tb_jmp_cache_hash_func picks it (tb-hash.h), holds the host code\n   of the block at that pc when it holds that pc; else (an empty slot holds the lookup stub\n   anyway) the backend's stub calls the helper, which fills the slot, and jumps where it says.\n   No flags to compare: the cache holds only blocks of the flags this block was entered with\n   (it is emptied whenever the CPU loop finds other flags, and flags change only through the\n   CPU loop), and only of the cflags it is translated under (a change of cflags drops all\n   code). A block translated under other cflags (one instruction, no caching) never probes. */\nstatic bool elfvisor_gen_jump_cache_probe(TCGContext *tcg_ctx)\n{\n    CPUState *cpu = tcg_ctx->uc->cpu;\n    ARMCPU *arm = ARM_CPU(cpu);\n    struct elfvisor_ibtc_slot *ibtc = tcg_ctx->uc->elfvisor_ibtc;\n    uint32_t cf_mask = (curr_cflags() & ~CF_CLUSTER_MASK) |\n                       ((uint32_t)cpu->cluster_index << CF_CLUSTER_SHIFT);\n    TCGv_i64 pc, slot, key, host, stub;\n\n    QEMU_BUILD_BUG_ON(sizeof(struct elfvisor_ibtc_slot) != 16);\n    if (ibtc == NULL || tcg_ctx->elfvisor_lookup_stub == NULL || cpu_isar_feature(aa64_bti, arm) ||\n        (tcg_ctx->tb_cflags & CF_NOCACHE) || (tcg_ctx->tb_cflags & CF_HASH_MASK) != cf_mask) {\n        return false;\n    }\n    pc = tcg_temp_new_i64(tcg_ctx);\n    slot = tcg_temp_new_i64(tcg_ctx);\n    key = tcg_temp_new_i64(tcg_ctx);\n    host = tcg_temp_new_i64(tcg_ctx);\n    stub = tcg_temp_new_i64(tcg_ctx);\n\n    /* the pc global, still in the register the branch computed it in */\n    tcg_gen_mov_i64(tcg_ctx, pc, tcg_ctx->cpu_pc_arm64);\n    tcg_gen_shri_i64(tcg_ctx, slot, pc, TB_JMP_CACHE_BITS);\n    tcg_gen_xor_i64(tcg_ctx, slot, slot, pc);\n    tcg_gen_andi_i64(tcg_ctx, slot, slot, TB_JMP_CACHE_SIZE - 1);\n    tcg_gen_shli_i64(tcg_ctx, slot, slot, 4);\n    tcg_gen_addi_i64(tcg_ctx, slot, slot, (uintptr_t)ibtc);\n    tcg_gen_ld_i64(tcg_ctx, key, (TCGv_ptr)slot, offsetof(struct elfvisor_ibtc_slot, pc));\n    tcg_gen_ld_i64(tcg_ctx, host, (TCGv_ptr)slot, offsetof(struct elfvisor_ibtc_slot, host));\n    tcg_gen_movi_i64(tcg_ctx, stub, (uintptr_t)tcg_ctx->elfvisor_lookup_stub);\n    tcg_gen_movcond_i64(tcg_ctx, TCG_COND_EQ, host, key, pc, host, stub);\n    tcg_gen_op1i(tcg_ctx, INDEX_op_goto_ptr, tcgv_i64_arg(tcg_ctx, host));\n\n    tcg_temp_free_i64(tcg_ctx, pc);\n    tcg_temp_free_i64(tcg_ctx, slot);\n    tcg_temp_free_i64(tcg_ctx, key);\n    tcg_temp_free_i64(tcg_ctx, host);\n    tcg_temp_free_i64(tcg_ctx, stub);\n    return true;\n}\n#endif\n\nvoid tcg_gen_lookup_and_goto_ptr(TCGContext *tcg_ctx)\n{\n#if TCG_TARGET_HAS_goto_ptr\n        TCGv_ptr ptr;\n\n#if defined(TARGET_AARCH64) && UINTPTR_MAX == UINT64_MAX\n        if (elfvisor_gen_jump_cache_probe(tcg_ctx)) {\n            return;\n        }\n#endif\n        ptr = tcg_temp_new_ptr(tcg_ctx);\n",
    },
    Edit {
        file: "qemu/include/tcg/tcg.h",
        original: "    void *code_gen_epilogue;\n    void *code_gen_buffer;\n",
        patched: "    void *code_gen_epilogue;\n    /* elfvisor: code that calls helper_lookup_tb_ptr and jumps to the result (NULL: none). */\n    void *elfvisor_lookup_stub;\n    /* elfvisor: the last load the backend emitted was a read-modify-write's on the linear fast\n       path, so the store that follows it may rely on its test (tcg-target.inc.c). */\n    bool elfvisor_rmw_armed;\n    void *code_gen_buffer;\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "/* Generate global QEMU prologue and epilogue code */\nstatic void tcg_target_qemu_prologue(TCGContext *s)\n",
        patched: "/* Generate global QEMU prologue and epilogue code */\n#if TCG_TARGET_REG_BITS == 64 && defined(TARGET_AARCH64)\n/* elfvisor: the block lookup the stub below calls (accel/tcg/tcg-runtime.c). */\nvoid *helper_lookup_tb_ptr(CPUArchState *env);\n#endif\n\nstatic void tcg_target_qemu_prologue(TCGContext *s)\n",
    },
    Edit {
        file: "qemu/tcg/i386/tcg-target.inc.c",
        original: "    tcg_out_opc(s, OPC_RET, 0, 0, 0);\n}\n",
        patched: "    tcg_out_opc(s, OPC_RET, 0, 0, 0);\n\n#if TCG_TARGET_REG_BITS == 64 && defined(TARGET_AARCH64)\n    /* elfvisor: the way out of an inline jump-cache probe that missed (tcg-op.c): reached by a\n       jump from a block's end, where a helper call may be made (globals saved, the stack as in\n       the block), it looks the block up and jumps to it, or to the epilogue. */\n    s->elfvisor_lookup_stub = s->code_ptr;\n    tcg_out_mov(s, TCG_TYPE_PTR, tcg_target_call_iarg_regs[0], TCG_AREG0);\n    tcg_out_call(s, (tcg_insn_unit *)helper_lookup_tb_ptr);\n    tcg_out_modrm(s, OPC_GRP5, EXT5_JMPN_Ev, TCG_REG_EAX);\n#endif\n}\n",
    },
    // Speed (system calls): the engine read the seven registers of every system call and
    // wrote its result through `uc_reg_read`/`uc_reg_write`, a call and a switch each (an
    // eighth of a `clock_gettime` round trip). For x0-x30 those calls only load and store the
    // CPU state's array, so the engine gets its address once and does the same.
    Edit {
        file: "qemu/target/arm/unicorn_aarch64.c",
        original: "    }\n\n    return UC_ERR_OK;\n}\n\nDEFAULT_VISIBILITY\n",
        patched: "    }\n\n    return UC_ERR_OK;\n}\n\n/* elfvisor: x0-x30 of the instance's vCPU, where reg_read and reg_write below read and write\n   them without side effects, for an embedder's system-call path (a load instead of a call). */\nUNICORN_EXPORT\nuint64_t *uc_elfvisor_xregs(uc_engine *uc)\n{\n    return ((CPUARMState *)uc->cpu->env_ptr)->xregs;\n}\n\nDEFAULT_VISIBILITY\n",
    },
    // Speed, stage 3 (dispatch): the inline jump-cache probe followed a block pointer and compared
    // six of the block's fields before jumping (35 host instructions and two dependent loads: half
    // of an interpreter loop's samples). Each vCPU gets an indirect-branch cache instead: a pc and
    // the host code of its block per slot, filled by the lookup helper, probed with one load pair
    // and a conditional move. It holds only blocks of the flags the CPU loop last found (emptied
    // when it finds others; flags change only through the loop) and of the vCPU's cflags (a change
    // of cflags drops all code); an invalidated block leaves its slot, a flush empties all of them.
    Edit {
        file: "qemu/include/hw/core/cpu.h",
        original: "#define CPU_GET_CLASS(obj) (((CPUState *)obj)->cc)\n\nstatic inline void cpu_tb_jmp_cache_clear(CPUState *cpu)\n{\n",
        patched: "#define CPU_GET_CLASS(obj) (((CPUState *)obj)->cc)\n\n/* elfvisor: empties the vCPU's indirect-branch cache (translate-all.c). */\nvoid elfvisor_ibtc_clear(CPUState *cpu);\n\nstatic inline void cpu_tb_jmp_cache_clear(CPUState *cpu)\n{\n",
    },
    Edit {
        file: "qemu/include/hw/core/cpu.h",
        original: "        cpu->tb_jmp_cache[i] = NULL;\n    }\n}\n\n",
        patched: "        cpu->tb_jmp_cache[i] = NULL;\n    }\n    elfvisor_ibtc_clear(cpu);\n}\n\n",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "#include \"sysemu/tcg.h\"\n#include \"uc_priv.h\"\n\nstatic bool tb_exec_is_locked(struct uc_struct*);\n",
        patched: "#include \"sysemu/tcg.h\"\n#include \"uc_priv.h\"\n\n/* elfvisor: every slot of the indirect-branch cache (uc_priv.h) empty: a pc no block is looked\n   up by where possible, and the lookup stub as its code in any case, so that a probe that hits\n   an empty slot still takes the full lookup. Until the stub exists the cache stays unready, and\n   the next entry to the CPU loop empties it again (cpu-exec.c). The first call maps it. */\nvoid elfvisor_ibtc_clear(CPUState *cpu)\n{\n    struct uc_struct *uc = cpu->uc;\n    const void *stub = uc && uc->tcg_ctx ? uc->tcg_ctx->elfvisor_lookup_stub : NULL;\n    size_t len = TB_JMP_CACHE_SIZE * sizeof(struct elfvisor_ibtc_slot) + 4096;\n    unsigned int i;\n\n    if (uc == NULL) {\n        return;\n    }\n    if (uc->elfvisor_ibtc == NULL) {\n        void *p = MAP_FAILED;\n#ifdef MAP_32BIT\n        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);\n#endif\n        if (p == MAP_FAILED) {\n            p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n        }\n        uc->elfvisor_ibtc = p == MAP_FAILED ? NULL : p;\n        uc->elfvisor_rmw_pending =\n            p == MAP_FAILED ? NULL : (uint8_t *)(uc->elfvisor_ibtc + TB_JMP_CACHE_SIZE);\n    }\n    uc->elfvisor_ibtc_ready = false;\n    if (uc->elfvisor_ibtc == NULL) {\n        return;\n    }\n    for (i = 0; i < TB_JMP_CACHE_SIZE; i++) {\n        uc->elfvisor_ibtc[i].pc = 1;\n        uc->elfvisor_ibtc[i].host = stub;\n    }\n    uc->elfvisor_ibtc_ready = stub != NULL;\n}\n\n/* elfvisor: the indirect-branch cache's slot of `tb`, emptied if it holds the block's code. */\nstatic void elfvisor_ibtc_forget(CPUState *cpu, TranslationBlock *tb)\n{\n    struct uc_struct *uc = cpu->uc;\n    unsigned int h = tb_jmp_cache_hash_func(uc, tb->pc);\n\n    if (uc->elfvisor_ibtc != NULL && uc->elfvisor_ibtc[h].host == tb->tc.ptr) {\n        uc->elfvisor_ibtc[h].pc = 1;\n        uc->elfvisor_ibtc[h].host = uc->tcg_ctx->elfvisor_lookup_stub;\n    }\n}\n\nstatic bool tb_exec_is_locked(struct uc_struct*);\n",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "        cpu->tb_jmp_cache[h] = NULL;\n    }\n\n    /* suppress this TB from the two jump lists */\n",
        patched: "        cpu->tb_jmp_cache[h] = NULL;\n    }\n    elfvisor_ibtc_forget(cpu, tb);\n\n    /* suppress this TB from the two jump lists */\n",
    },
    Edit {
        file: "qemu/accel/tcg/translate-all.c",
        original: "            cpu->tb_jmp_cache[i] = NULL;\n        }\n    }\n}\n",
        patched: "            cpu->tb_jmp_cache[i] = NULL;\n        }\n        if (uc->elfvisor_ibtc != NULL &&\n            (uc->elfvisor_ibtc[i].pc & TARGET_PAGE_MASK) == (page_addr & TARGET_PAGE_MASK)) {\n            uc->elfvisor_ibtc[i].pc = 1;\n            uc->elfvisor_ibtc[i].host = uc->tcg_ctx->elfvisor_lookup_stub;\n        }\n    }\n}\n",
    },
    Edit {
        file: "qemu/accel/tcg/cpu-exec.c",
        original: "\n    tb = tb_lookup__cpu_state(cpu, &pc, &cs_base, &flags, cf_mask);\n    if (tb == NULL) {\n        mmap_lock();\n",
        patched: "\n    tb = tb_lookup__cpu_state(cpu, &pc, &cs_base, &flags, cf_mask);\n    /* elfvisor: the indirect-branch cache holds blocks of one set of flags, those the CPU loop\n       last found: the only place flags are seen to change (uc_priv.h). */\n    if (!uc->elfvisor_ibtc_ready || flags != uc->elfvisor_ibtc_flags) {\n        elfvisor_ibtc_clear(cpu);\n        uc->elfvisor_ibtc_flags = flags;\n    }\n    if (tb == NULL) {\n        mmap_lock();\n",
    },
    Edit {
        file: "qemu/accel/tcg/tcg-runtime.c",
        original: "}\n\nvoid *HELPER(lookup_tb_ptr)(CPUArchState *env)\n{\n",
        patched: "}\n\n#ifdef TARGET_AARCH64\n/* elfvisor: a block found for an indirect branch goes into the vCPU's indirect-branch cache\n   (uc_priv.h) when it has the cache's flags (the flags it was entered with) and no cs_base; a\n   probe of its pc then jumps to it without this call. */\nstatic void elfvisor_ibtc_fill(CPUState *cpu, TranslationBlock *tb)\n{\n    struct uc_struct *uc = cpu->uc;\n\n    if (uc->elfvisor_ibtc_ready && tb->flags == uc->elfvisor_ibtc_flags && tb->cs_base == 0 &&\n        !(tb_cflags(tb) & (CF_INVALID | CF_NOCACHE))) {\n        unsigned int h = tb_jmp_cache_hash_func(uc, tb->pc);\n\n        uc->elfvisor_ibtc[h].pc = tb->pc;\n        uc->elfvisor_ibtc[h].host = tb->tc.ptr;\n    }\n}\n\n#endif\nvoid *HELPER(lookup_tb_ptr)(CPUArchState *env)\n{\n",
    },
    Edit {
        file: "qemu/accel/tcg/tcg-runtime.c",
        original: "        return uc->tcg_ctx->code_gen_epilogue;\n    }\n    return tb->tc.ptr;\n}\n",
        patched: "        return uc->tcg_ctx->code_gen_epilogue;\n    }\n#ifdef TARGET_AARCH64\n    elfvisor_ibtc_fill(cpu, tb);\n#endif\n    return tb->tc.ptr;\n}\n",
    },
    // The indirect-branch cache lives in its own mapping, named by the instance, not in the CPU
    // state (whose layout stays QEMU's); `uc_close` unmaps it.
    Edit {
        file: "include/uc_priv.h",
        original: "       elfvisor_fast_base, so a direct access is %gs:(address). */\n    bool elfvisor_fast_gs;\n\n    bool init_tcg;       // already initialized local TCGv variables?\n",
        patched: "       elfvisor_fast_base, so a direct access is %gs:(address). */\n    bool elfvisor_fast_gs;\n    /* elfvisor: the vCPU's indirect-branch cache, which translated code probes inline\n       (tcg-op.c): TB_JMP_CACHE_SIZE slots of a guest pc and the host code of its block, valid\n       for blocks of the flags in elfvisor_ibtc_flags and the vCPU's current cflags; an empty\n       slot's code is the lookup stub, so a hit on it is a miss. Its own mapping, below 2 GiB\n       where the host has room (the probe then names it by a displacement), made by the first\n       emptying (translate-all.c elfvisor_ibtc_clear); NULL: none, and no probe. Not in the CPU\n       state, whose layout stays as QEMU's. */\n    struct elfvisor_ibtc_slot {\n        uint64_t pc;\n        const void *host;\n    } *elfvisor_ibtc;\n    uint32_t elfvisor_ibtc_flags;\n    bool elfvisor_ibtc_ready;\n    /* elfvisor: set by a read-modify-write's load that left the linear fast path, cleared by\n       the store that follows it (tcg-target.inc.c); in the page after the cache's slots, so\n       translated code names it by a displacement too. NULL with the cache. */\n    uint8_t *elfvisor_rmw_pending;\n\n    bool init_tcg;       // already initialized local TCGv variables?\n",
    },
    Edit {
        file: "uc.c",
        original: "    g_free(uc->cpu->cpu_ases);\n    g_free(uc->cpu->thread);\n\n    /* cpu */\n",
        patched: "    g_free(uc->cpu->cpu_ases);\n    g_free(uc->cpu->thread);\n\n    /* elfvisor: the indirect-branch cache's own mapping (translate-all.c). */\n    if (uc->elfvisor_ibtc != NULL) {\n        munmap(uc->elfvisor_ibtc, TB_JMP_CACHE_SIZE * sizeof(struct elfvisor_ibtc_slot) + 4096);\n        uc->elfvisor_rmw_pending = NULL;\n        uc->elfvisor_ibtc = NULL;\n    }\n\n    /* cpu */\n",
    },
    // Serial atomics: a read-modify-write done as a load and then a store of the same aligned
    // address (tcg-op.c's serial cmpxchg and fetch-and-op) marks both with hint bits (memop.h); the
    // backend's load tests the page's write bit, and the store after it needs no test of its own
    // unless the load left the fast path, which sets a pending byte that sends the store out of
    // line, where it is cleared. The backend drops the hint bits before anything else sees the
    // memop. The pending byte (in one more page after the indirect-branch cache's slots), the
    // backend's side and the label's field are in the edits of the cache and of the linear fast
    // path above; these edits add the hint bits, set them, and disarm the pairing at every block's
    // start.
    Edit {
        file: "qemu/include/exec/memop.h",
        original: "    MO_ALIGN_64 = 6 << MO_ASHIFT,\n\n    /* Combinations of the above, for ease of use.  */\n    MO_UB    = MO_8,\n",
        patched: "    MO_ALIGN_64 = 6 << MO_ASHIFT,\n\n    /* elfvisor: hints from a read-modify-write done as a load and then a store of the same\n       address (tcg-op.c, atomics in serial code) to the backend's linear fast path: the load\n       tests the page's write bit, and the store that follows it runs without a test of its\n       own unless the load left the fast path. The backend drops both bits. */\n    MO_ELFVISOR_RMW_LD = 1 << 7,\n    MO_ELFVISOR_RMW_ST = 1 << 8,\n\n    /* Combinations of the above, for ease of use.  */\n    MO_UB    = MO_8,\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "};\n\nvoid tcg_gen_atomic_cmpxchg_i32(TCGContext *tcg_ctx, TCGv_i32 retv, TCGv addr, TCGv_i32 cmpv,\n                                TCGv_i32 newv, TCGArg idx, MemOp memop)\n",
        patched: "};\n\n/* elfvisor: the hint bits of a serial read-modify-write's load or store (memop.h), for an\n   access aligned to its size (which then cannot run onto the next page). */\nstatic MemOp elfvisor_rmw(MemOp memop, MemOp hint)\n{\n#if defined(TARGET_AARCH64) && UINTPTR_MAX == UINT64_MAX\n    if (get_alignment_bits(memop) >= (unsigned)(memop & MO_SIZE)) {\n        return memop | hint;\n    }\n#endif\n    return memop;\n}\n\nvoid tcg_gen_atomic_cmpxchg_i32(TCGContext *tcg_ctx, TCGv_i32 retv, TCGv addr, TCGv_i32 cmpv,\n                                TCGv_i32 newv, TCGArg idx, MemOp memop)\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "        tcg_gen_ext_i32(tcg_ctx, t2, cmpv, memop & MO_SIZE);\n\n        tcg_gen_qemu_ld_i32(tcg_ctx, t1, addr, idx, memop & ~MO_SIGN);\n        tcg_gen_movcond_i32(tcg_ctx, TCG_COND_EQ, t2, t1, t2, newv, t1);\n        tcg_gen_qemu_st_i32(tcg_ctx, t2, addr, idx, memop);\n        tcg_temp_free_i32(tcg_ctx, t2);\n\n",
        patched: "        tcg_gen_ext_i32(tcg_ctx, t2, cmpv, memop & MO_SIZE);\n\n        tcg_gen_qemu_ld_i32(tcg_ctx, t1, addr, idx,\n                            elfvisor_rmw(memop & ~MO_SIGN, MO_ELFVISOR_RMW_LD));\n        tcg_gen_movcond_i32(tcg_ctx, TCG_COND_EQ, t2, t1, t2, newv, t1);\n        tcg_gen_qemu_st_i32(tcg_ctx, t2, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_ST));\n        tcg_temp_free_i32(tcg_ctx, t2);\n\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "        tcg_gen_ext_i64(tcg_ctx, t2, cmpv, memop & MO_SIZE);\n\n        tcg_gen_qemu_ld_i64(tcg_ctx, t1, addr, idx, memop & ~MO_SIGN);\n        tcg_gen_movcond_i64(tcg_ctx, TCG_COND_EQ, t2, t1, t2, newv, t1);\n        tcg_gen_qemu_st_i64(tcg_ctx, t2, addr, idx, memop);\n        tcg_temp_free_i64(tcg_ctx, t2);\n\n",
        patched: "        tcg_gen_ext_i64(tcg_ctx, t2, cmpv, memop & MO_SIZE);\n\n        tcg_gen_qemu_ld_i64(tcg_ctx, t1, addr, idx,\n                            elfvisor_rmw(memop & ~MO_SIGN, MO_ELFVISOR_RMW_LD));\n        tcg_gen_movcond_i64(tcg_ctx, TCG_COND_EQ, t2, t1, t2, newv, t1);\n        tcg_gen_qemu_st_i64(tcg_ctx, t2, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_ST));\n        tcg_temp_free_i64(tcg_ctx, t2);\n\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "    memop = tcg_canonicalize_memop(memop, 0, 0);\n\n    tcg_gen_qemu_ld_i32(tcg_ctx, t1, addr, idx, memop);\n    tcg_gen_ext_i32(tcg_ctx, t2, val, memop);\n    gen(tcg_ctx, t2, t1, t2);\n    tcg_gen_qemu_st_i32(tcg_ctx, t2, addr, idx, memop);\n\n    tcg_gen_ext_i32(tcg_ctx, ret, (new_val ? t2 : t1), memop);\n",
        patched: "    memop = tcg_canonicalize_memop(memop, 0, 0);\n\n    tcg_gen_qemu_ld_i32(tcg_ctx, t1, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_LD));\n    tcg_gen_ext_i32(tcg_ctx, t2, val, memop);\n    gen(tcg_ctx, t2, t1, t2);\n    tcg_gen_qemu_st_i32(tcg_ctx, t2, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_ST));\n\n    tcg_gen_ext_i32(tcg_ctx, ret, (new_val ? t2 : t1), memop);\n",
    },
    Edit {
        file: "qemu/tcg/tcg-op.c",
        original: "    memop = tcg_canonicalize_memop(memop, 1, 0);\n\n    tcg_gen_qemu_ld_i64(tcg_ctx, t1, addr, idx, memop);\n    tcg_gen_ext_i64(tcg_ctx, t2, val, memop);\n    gen(tcg_ctx, t2, t1, t2);\n    tcg_gen_qemu_st_i64(tcg_ctx, t2, addr, idx, memop);\n\n    tcg_gen_ext_i64(tcg_ctx, ret, (new_val ? t2 : t1), memop);\n",
        patched: "    memop = tcg_canonicalize_memop(memop, 1, 0);\n\n    tcg_gen_qemu_ld_i64(tcg_ctx, t1, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_LD));\n    tcg_gen_ext_i64(tcg_ctx, t2, val, memop);\n    gen(tcg_ctx, t2, t1, t2);\n    tcg_gen_qemu_st_i64(tcg_ctx, t2, addr, idx, elfvisor_rmw(memop, MO_ELFVISOR_RMW_ST));\n\n    tcg_gen_ext_i64(tcg_ctx, ret, (new_val ? t2 : t1), memop);\n",
    },
    Edit {
        file: "qemu/tcg/tcg.c",
        original: "    s->nb_labels = 0;\n    s->current_frame_offset = s->frame_start;\n\n#ifdef CONFIG_DEBUG_TCG\n",
        patched: "    s->nb_labels = 0;\n    s->current_frame_offset = s->frame_start;\n    /* elfvisor: no read-modify-write's load before a block's first op. */\n    s->elfvisor_rmw_armed = false;\n\n#ifdef CONFIG_DEBUG_TCG\n",
    },
];

/// A build of the patched unicorn: the normal one, or one compiled with AddressSanitizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `target/unicorn/`, where `.cargo/config.toml` points pkg-config.
    Normal,
    /// `target/unicorn-asan/`: the same sources and edits, compiled with `-fsanitize=address`;
    /// linked only by `cargo xtask asan`'s own build (see `crate::asan`).
    Asan,
}

/// The pkg-config variable that names the sanitizer a build was compiled with (only the ASan
/// build has it). Keep in step with `emulator/engine/build.rs`.
pub const SANITIZER_VARIABLE: &str = "elfvisor_sanitizer";

impl Variant {
    fn dir(self) -> &'static str {
        match self {
            Variant::Normal => "unicorn",
            Variant::Asan => "unicorn-asan",
        }
    }

    /// Extra C flags (the sanitizer; frame pointers for readable reports).
    fn c_flags(self) -> &'static str {
        match self {
            Variant::Normal => "",
            Variant::Asan => "-fsanitize=address -fno-omit-frame-pointer -g",
        }
    }

    /// The marker lines the pkg-config file gets.
    fn markers(self) -> String {
        let mut text = format!("{MARKER_VARIABLE}={MARKER_VALUE}\n");
        if self == Variant::Asan {
            text.push_str(&format!("{SANITIZER_VARIABLE}=address\n"));
        }
        text
    }
}

/// Where the variant is installed (relative to the workspace, not CARGO_TARGET_DIR).
pub fn prefix_of(root: &Path, variant: Variant) -> PathBuf {
    root.join("target").join(variant.dir())
}

/// Where `.cargo/config.toml` points pkg-config (relative to the workspace, not CARGO_TARGET_DIR).
pub fn prefix(root: &Path) -> PathBuf {
    prefix_of(root, Variant::Normal)
}

pub fn pc_file_of(root: &Path, variant: Variant) -> PathBuf {
    prefix_of(root, variant).join("lib").join("pkgconfig").join("unicorn.pc")
}

pub fn pc_file(root: &Path) -> PathBuf {
    pc_file_of(root, Variant::Normal)
}

/// Whether the patched library is installed and marked.
pub fn installed(root: &Path) -> bool {
    installed_variant(root, Variant::Normal)
}

/// Whether the variant is installed and carries all of its markers.
pub fn installed_variant(root: &Path, variant: Variant) -> bool {
    let lib = prefix_of(root, variant).join("lib").join("libunicorn.a");
    lib.is_file()
        && std::fs::read_to_string(pc_file_of(root, variant))
            .is_ok_and(|pc| variant.markers().lines().all(|m| pc.lines().any(|l| l == m)))
}

/// The directory cargo unpacked `unicorn-engine-sys` into.
fn sys_crate_dir(root: &Path) -> Result<PathBuf> {
    let meta = crate::cargo_metadata(root, false)?;
    let packages = meta["packages"].as_array().context("cargo metadata lists no packages")?;
    let sys = packages
        .iter()
        .find(|p| p["name"] == SYS_CRATE && p["version"] == SYS_VERSION)
        .with_context(|| format!("{SYS_CRATE} {SYS_VERSION} is not in the dependency graph"))?;
    let manifest = sys["manifest_path"].as_str().context("no manifest_path")?;
    Ok(Path::new(manifest).parent().context("manifest has no directory")?.to_owned())
}

pub fn run(cmd: &mut Command) -> Result<()> {
    println!("deps: running {cmd:?}");
    let status = cmd.stdin(Stdio::null()).status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Applies [`EDITS`] to a copy of the sources; refuses sources it does not know.
pub fn patch(src: &Path) -> Result<()> {
    for edit in &EDITS {
        let file = src.join(edit.file);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        if text.contains(edit.patched) {
            continue;
        }
        if text.matches(edit.original).count() != 1 {
            bail!(
                "{} does not contain the text elfvisor edits exactly once: these are not the \
                 unicorn {SYS_VERSION} sources elfvisor knows how to patch",
                file.display()
            );
        }
        std::fs::write(&file, text.replace(edit.original, edit.patched))
            .with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Builds and installs the patched unicorn under `target/unicorn/`.
pub fn build(root: &Path) -> Result<()> {
    build_variant(root, Variant::Normal)?;
    // rustc bundled the previous libunicorn.a into the -sys crate's rlib, and cargo does not
    // track the archive: drop those rlibs so every binary links the new library.
    for profile in ["dev", "release"] {
        run(crate::cargo()
            .args(["clean", "--quiet", "-p", SYS_CRATE, "--profile", profile])
            .current_dir(root))?;
    }
    println!("deps: patched unicorn installed in {}", prefix(root).display());
    Ok(())
}

/// The crate whose rlib bundles `libunicorn.a` (what a rebuild of the library must clean).
pub const SYS_CRATE_NAME: &str = SYS_CRATE;

/// Builds and installs one variant under `target/<its dir>/` (its own build directory too, so
/// the variants never share objects).
pub fn build_variant(root: &Path, variant: Variant) -> Result<()> {
    let source = sys_crate_dir(root)?;
    let work = root.join("target").join(format!("{}-build", variant.dir()));
    let src = work.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| format!("removing {}", src.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    run(Command::new("cp").arg("-R").arg(&source).arg(&src))?;
    patch(&src)?;
    let build = work.join("build");
    let prefix = prefix_of(root, variant);
    let mut configure = Command::new("cmake");
    if !variant.c_flags().is_empty() {
        let flags = variant.c_flags();
        configure.arg(format!("-DCMAKE_C_FLAGS={flags}")).arg(format!("-DCMAKE_CXX_FLAGS={flags}"));
    }
    run(configure
        .arg("-S")
        .arg(&src)
        .arg("-B")
        .arg(&build)
        .args(["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DUNICORN_ARCH=aarch64"])
        .args(["-DBUILD_SHARED_LIBS=OFF", "-DUNICORN_LEGACY_STATIC_ARCHIVE=ON"])
        .args(["-DUNICORN_INSTALL=ON", "-DUNICORN_BUILD_TESTS=OFF", "-DCMAKE_INSTALL_LIBDIR=lib"])
        .arg(format!("-DCMAKE_INSTALL_PREFIX={}", prefix.display())))?;
    run(Command::new("cmake").arg("--build").arg(&build))?;
    run(Command::new("cmake").arg("--install").arg(&build))?;
    let pc = pc_file_of(root, variant);
    let mut text =
        std::fs::read_to_string(&pc).with_context(|| format!("reading {}", pc.display()))?;
    text.push_str(&variant.markers());
    std::fs::write(&pc, text).with_context(|| format!("writing {}", pc.display()))?;
    if !installed_variant(root, variant) {
        bail!("the unicorn build finished but {} is incomplete", prefix.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each edited file as `before`, then every edit's text (one per line) for that file,
    /// then `after`.
    fn file_text(file: &str, text: impl Fn(&Edit) -> String) -> String {
        let parts: Vec<String> = EDITS.iter().filter(|e| e.file == file).map(text).collect();
        format!("before\n{}\nafter\n", parts.join("\n"))
    }

    fn fake_sources(texts: impl Fn(&Edit) -> String + Copy) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for edit in &EDITS {
            let file = dir.path().join(edit.file);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, file_text(edit.file, texts)).unwrap();
        }
        dir
    }

    #[test]
    fn test_patch_changes_exactly_the_edited_text() {
        let dir = fake_sources(|e| e.original.to_string());
        patch(dir.path()).unwrap();
        for edit in &EDITS {
            let text = std::fs::read_to_string(dir.path().join(edit.file)).unwrap();
            assert_eq!(text, file_text(edit.file, |e| e.patched.to_string()));
        }
        patch(dir.path()).unwrap();
        let again = std::fs::read_to_string(dir.path().join(EDITS[0].file)).unwrap();
        assert_eq!(
            again,
            file_text(EDITS[0].file, |e| e.patched.to_string()),
            "patching twice is a no-op"
        );
    }

    #[test]
    fn test_patch_refuses_unknown_sources() {
        let dir = fake_sources(|_| "static inline uint32_t curr_cflags(void) { return 1; }".into());
        let err = patch(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not the unicorn 2.1.5 sources"), "{err}");
    }

    /// The engine's build script refuses any libunicorn whose marker is not the one it names:
    /// it must name the one this module installs.
    #[test]
    fn test_the_engine_build_script_expects_this_marker() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../emulator/engine/build.rs");
        let text = std::fs::read_to_string(&script).unwrap();
        let constant = |name: &str| {
            let start = format!("const {name}: &str = \"");
            let from =
                text.find(&start).unwrap_or_else(|| panic!("build.rs has no {name}")) + start.len();
            text[from..].split('"').next().unwrap().to_string()
        };
        assert_eq!(constant("MARKER_VARIABLE"), MARKER_VARIABLE);
        assert_eq!(constant("MARKER_VALUE"), MARKER_VALUE);
        assert_eq!(constant("SANITIZER_VARIABLE"), SANITIZER_VARIABLE);
    }

    #[test]
    fn test_installed_needs_the_marker() {
        let root = tempfile::tempdir().unwrap();
        assert!(!installed(root.path()));
        let lib = prefix(root.path()).join("lib");
        std::fs::create_dir_all(lib.join("pkgconfig")).unwrap();
        std::fs::write(lib.join("libunicorn.a"), b"").unwrap();
        std::fs::write(pc_file(root.path()), "Name: unicorn\n").unwrap();
        assert!(!installed(root.path()), "an unmarked unicorn is not ours");
        std::fs::write(
            pc_file(root.path()),
            format!("Name: unicorn\n{MARKER_VARIABLE}={MARKER_VALUE}\n"),
        )
        .unwrap();
        assert!(installed(root.path()));
    }
}

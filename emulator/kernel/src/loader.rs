//! Loading an aarch64 ELF program into a fresh address space, with the initial stack Linux
//! builds (argc, argv, envp, auxv) and the registers `execve` leaves. A program with a
//! PT_INTERP gets its interpreter (the dynamic linker) mapped too, found through the sysroot
//! (`crate::sysroot`), and starts there.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use elfvisor_abi::auxv::{
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP,
    AT_HWCAP2, AT_MINSIGSTKSZ, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PLATFORM,
    AT_RANDOM, AT_SECURE, AT_SYSINFO_EHDR, AT_UID,
};
use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE};
use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};
use elfvisor_mm::{AddressSpace, MmapRequest, VmaName};
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::program_header::ProgramHeader;
use goblin::elf::{Elf, Header, header, program_header};

/// Where an ET_DYN program with an interpreter is placed: arm64's `ELF_ET_DYN_BASE` is
/// `2 * DEFAULT_MAP_WINDOW_64 / 3` (arch/arm64/include/asm/elf.h), two thirds of the address
/// space, which is 0xaaaa_aaaa_0000 on a 48-bit kernel with 64 KiB-aligned programs. The guest's
/// arena is smaller than 48 bits, so elfvisor takes two thirds of the arena.
pub fn et_dyn_base(arena_size: u64) -> u64 {
    (arena_size / 3 * 2) & !(PAGE_SIZE - 1)
}
/// The main thread's stack size (RLIMIT_STACK's usual 8 MiB).
pub const STACK_SIZE: u64 = 8 << 20;

/// Why a program cannot be loaded. Each message is one precise line for the user.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an ELF file")]
    NotElf { path: PathBuf },
    #[error("{path}: malformed ELF: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error("{path}: is a {what} program; elfvisor runs 64-bit little-endian aarch64 programs")]
    WrongMachine { path: PathBuf, what: String },
    #[error(
        "{path}: cannot open its interpreter {interp} ({errno}; a dynamically linked program needs --sysroot DIR holding it)"
    )]
    Interp { path: PathBuf, interp: String, errno: elfvisor_abi::Errno },
    #[error("{path}: its interpreter {interp} is unusable: {detail}")]
    BadInterp { path: PathBuf, interp: String, detail: String },
    #[error("{path}: segment at {vaddr:#x}+{size:#x} lies outside the guest address space")]
    OutOfRange { path: PathBuf, vaddr: u64, size: u64 },
    #[error("{path}: cannot map segment at {vaddr:#x}: {errno}")]
    Map { path: PathBuf, vaddr: u64, errno: elfvisor_abi::Errno },
    #[error("{path}: the arguments and environment do not fit on the initial stack")]
    ArgsTooLong { path: PathBuf },
}

/// What the loader hands the run loop.
#[derive(Debug)]
pub struct Loaded {
    pub entry: GuestAddr,
    /// The vDSO's `__kernel_rt_sigreturn`, where handlers without SA_RESTORER return.
    pub sigreturn_trampoline: GuestAddr,
    pub sp: GuestAddr,
    /// The program's absolute path as the guest sees it (`/proc/self/exe`): its host path, less
    /// the sysroot's prefix when it lies inside the sysroot.
    pub exe: PathBuf,
}

/// Everything the initial stack needs beyond the ELF itself.
#[derive(Debug)]
pub struct Startup<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    /// The path as given (AT_EXECFN).
    pub execfn: &'a [u8],
    pub hwcaps: (u64, u64),
    pub random: [u8; 16],
    pub ids: (u32, u32, u32, u32),
}

fn malformed(path: &Path, detail: impl Into<String>) -> LoadError {
    LoadError::Malformed { path: path.to_owned(), detail: detail.into() }
}

/// What the loader reads of a program: its ELF header and program headers. The segments are
/// mapped from the file and never read; a static glibc program is ~700 KiB, and reading it whole
/// (with every section parsed) cost about a millisecond of each start.
struct Image {
    header: Header,
    program_headers: Vec<ProgramHeader>,
    /// The PT_INTERP path, up to its NUL.
    interp: Option<Vec<u8>>,
}

/// The largest program header table Linux accepts (`load_elf_phdrs`).
const MAX_PHDRS_SIZE: usize = 65536;

/// `len` bytes of `file` at `offset`; the caller checked they lie within the file.
fn read_at(path: &Path, file: &File, offset: u64, len: usize) -> Result<Vec<u8>, LoadError> {
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, offset)
        .map_err(|source| LoadError::Open { path: path.to_owned(), source })?;
    Ok(buf)
}

/// Reads and checks the ELF header and program headers before anything is mapped.
fn read_image(path: &Path, file: &File) -> Result<Image, LoadError> {
    let size =
        file.metadata().map_err(|source| LoadError::Open { path: path.to_owned(), source })?.len();
    let bytes = read_at(path, file, 0, size.min(header::header64::SIZEOF_EHDR as u64) as usize)?;
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf { path: path.to_owned() });
    }
    if bytes.len() < header::header64::SIZEOF_EHDR {
        return Err(malformed(path, "file is shorter than an ELF header"));
    }
    let class = bytes[header::EI_CLASS];
    let data = bytes[header::EI_DATA];
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    if class != header::ELFCLASS64 || data != header::ELFDATA2LSB || machine != header::EM_AARCH64 {
        let bits = if class == header::ELFCLASS32 { "32-bit" } else { "64-bit" };
        let endian = if data == header::ELFDATA2MSB { "big-endian" } else { "little-endian" };
        let machine = if data == header::ELFDATA2MSB {
            u16::from_be_bytes([bytes[18], bytes[19]])
        } else {
            machine
        };
        let name = header::machine_to_str(machine);
        return Err(LoadError::WrongMachine {
            path: path.to_owned(),
            what: format!("{bits} {endian} {name}"),
        });
    }
    let header = Elf::parse_header(&bytes).map_err(|e| malformed(path, e.to_string()))?;
    if header.e_type != header::ET_EXEC && header.e_type != header::ET_DYN {
        return Err(malformed(
            path,
            format!("ELF type {} is not an executable", header::et_to_str(header.e_type)),
        ));
    }
    if header.e_phnum == 0 {
        return Err(malformed(path, "no loadable segment"));
    }
    // Linux refuses other entry sizes and tables over 64 KiB (`load_elf_phdrs`).
    if usize::from(header.e_phentsize) != program_header::program_header64::SIZEOF_PHDR {
        return Err(malformed(path, format!("program header size {}", header.e_phentsize)));
    }
    let table_len = usize::from(header.e_phnum) * program_header::program_header64::SIZEOF_PHDR;
    if table_len > MAX_PHDRS_SIZE {
        return Err(malformed(path, format!("{} program headers", header.e_phnum)));
    }
    if header.e_phoff.checked_add(table_len as u64).is_none_or(|end| end > size) {
        return Err(malformed(path, "program headers reach past the end of the file"));
    }
    let table = read_at(path, file, header.e_phoff, table_len)?;
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let program_headers = ProgramHeader::parse(&table, 0, usize::from(header.e_phnum), ctx)
        .map_err(|e| malformed(path, e.to_string()))?;

    let mut interp = None;
    for ph in &program_headers {
        let file_end = ph.p_offset.checked_add(ph.p_filesz);
        let in_file = file_end.is_some_and(|end| end <= size);
        if ph.p_type == program_header::PT_INTERP {
            // load_elf_binary: the first PT_INTERP counts; its path is 2 to PATH_MAX bytes
            // and ends in a NUL (ENOEXEC otherwise).
            if interp.is_some() {
                continue;
            }
            if !in_file || ph.p_filesz < 2 || ph.p_filesz > elfvisor_abi::limits::PATH_MAX as u64 {
                return Err(malformed(path, "malformed PT_INTERP segment"));
            }
            let raw = read_at(path, file, ph.p_offset, ph.p_filesz as usize)?;
            if raw.last() != Some(&0) {
                return Err(malformed(path, "PT_INTERP path is not NUL-terminated"));
            }
            interp = Some(raw.split(|&b| b == 0).next().unwrap_or_default().to_vec());
            continue;
        }
        if ph.p_type != program_header::PT_LOAD {
            continue;
        }
        if !in_file {
            return Err(malformed(
                path,
                format!("segment at {:#x} reaches past the end of the file", ph.p_vaddr),
            ));
        }
        if ph.p_filesz > ph.p_memsz {
            return Err(malformed(
                path,
                format!("segment at {:#x} has more file bytes than memory", ph.p_vaddr),
            ));
        }
        if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
            return Err(malformed(
                path,
                format!("segment at {:#x} is not page-congruent with its file offset", ph.p_vaddr),
            ));
        }
    }
    if !program_headers.iter().any(|p| p.p_type == program_header::PT_LOAD) {
        return Err(malformed(path, "no loadable segment"));
    }
    Ok(Image { header, program_headers, interp })
}

/// Maps every PT_LOAD segment at `bias` and returns the end of the highest one.
fn map_segments(
    mm: &mut AddressSpace,
    path: &Path,
    file: &Arc<File>,
    elf: &Image,
    bias: u64,
) -> Result<GuestAddr, LoadError> {
    let mut top = GuestAddr(0);
    // Mappings show the guest's name for the file, as /proc/self/maps prints them.
    let guest_name = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let name = VmaName::Path(crate::sysroot::guest_name(&guest_name).display().to_string());
    for ph in elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD) {
        let out_of_range =
            || LoadError::OutOfRange { path: path.to_owned(), vaddr: ph.p_vaddr, size: ph.p_memsz };
        let vaddr = ph.p_vaddr.checked_add(bias).ok_or_else(out_of_range)?;
        let mem_end = vaddr.checked_add(ph.p_memsz).ok_or_else(out_of_range)?;
        if mem_end > mm.arena_size() || vaddr < mm.layout().mmap_min.0 {
            return Err(out_of_range());
        }
        let mut prot = Prot::NONE;
        if ph.is_read() {
            prot = prot | Prot::READ;
        }
        if ph.is_write() {
            prot = prot | Prot::WRITE;
        }
        if ph.is_executable() {
            prot = prot | Prot::EXEC;
        }
        let start = GuestAddr(vaddr).page_down();
        let file_end = GuestAddr(vaddr + ph.p_filesz);
        let map_err = |errno| LoadError::Map { path: path.to_owned(), vaddr: ph.p_vaddr, errno };
        // The file-backed pages, private: Linux semantics for free.
        let file_pages_end = file_end.page_up().ok_or_else(out_of_range)?;
        if ph.p_filesz > 0 {
            let offset = ph.p_offset - (vaddr - start.0);
            mm.mmap(MmapRequest {
                addr: start,
                len: file_pages_end.0 - start.0,
                prot,
                flags: MAP_PRIVATE | MAP_FIXED,
                file: Some((Arc::clone(file), offset)),
                name: name.clone(),
            })
            .map_err(map_err)?;
            // Bytes past p_filesz in the last file page belong to .bss: zero them.
            let tail = file_pages_end.0 - file_end.0;
            if tail > 0 && ph.p_memsz > ph.p_filesz {
                mm.write_private_pages(file_end, &vec![0u8; tail as usize]).map_err(map_err)?;
            }
        }
        // Whole .bss pages beyond the file: anonymous zero pages.
        let mem_pages_end = GuestAddr(mem_end).page_up().ok_or_else(out_of_range)?;
        let anon_start = if ph.p_filesz > 0 { file_pages_end } else { start };
        if mem_pages_end > anon_start {
            mm.mmap(MmapRequest {
                addr: anon_start,
                len: mem_pages_end.0 - anon_start.0,
                prot,
                flags: MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
                file: None,
                name: VmaName::None,
            })
            .map_err(map_err)?;
        }
        top = top.max(mem_pages_end);
    }
    Ok(top)
}

/// The PT_LOAD segments' page-aligned span: its lowest address and its length.
fn load_span(elf: &Image) -> (u64, u64) {
    let loads = || elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD);
    let low = loads().map(|p| p.p_vaddr).min().unwrap_or(0) & !(PAGE_SIZE - 1);
    let high = loads().map(|p| p.p_vaddr.saturating_add(p.p_memsz)).max().unwrap_or(0);
    (low, high.saturating_sub(low).saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1))
}

/// The largest PT_LOAD alignment that is a power of two (`maximum_alignment`).
fn max_alignment(elf: &Image) -> u64 {
    elf.program_headers
        .iter()
        .filter(|p| p.p_type == program_header::PT_LOAD && p.p_align.is_power_of_two())
        .map(|p| p.p_align)
        .fold(PAGE_SIZE, u64::max)
}

/// Opens, checks and maps the interpreter `name` of the program at `path`, as
/// `load_elf_interp` (fs/binfmt_elf.c) does: an ET_DYN interpreter goes where an mmap of its
/// whole span would (top-down below the mmap base), an ET_EXEC one at its own addresses.
/// Returns its load bias (AT_BASE) and its entry point.
fn map_interp(
    mm: &mut AddressSpace,
    path: &Path,
    name: &[u8],
) -> Result<(u64, GuestAddr), LoadError> {
    let interp = String::from_utf8_lossy(name).into_owned();
    let open_err =
        |errno| LoadError::Interp { path: path.to_owned(), interp: interp.clone(), errno };
    let bad = |detail: String| LoadError::BadInterp {
        path: path.to_owned(),
        interp: interp.clone(),
        detail,
    };
    let host = crate::sysroot::host_path(name, crate::sysroot::Follow::Last).map_err(open_err)?;
    let host = PathBuf::from(std::ffi::OsStr::from_bytes(&host));
    // open_exec: a directory or a file without execute permission is EACCES.
    let meta = std::fs::metadata(&host).map_err(|e| open_err(elfvisor_host::errno_from_io(&e)))?;
    if meta.is_dir() {
        return Err(open_err(elfvisor_abi::Errno::EACCES));
    }
    let cpath = std::ffi::CString::new(host.as_os_str().as_bytes())
        .map_err(|_| open_err(elfvisor_abi::Errno::ENOENT))?;
    crate::host::can_execute(&cpath).map_err(open_err)?;
    let file = Arc::new(File::open(&host).map_err(|e| open_err(elfvisor_host::errno_from_io(&e)))?);
    // Not an ELF, or not an aarch64 one: ELIBBAD (load_elf_binary's interpreter checks).
    let elf = read_image(&host, &file).map_err(|e| bad(e.to_string()))?;
    // load_elf_interp maps an ET_DYN interpreter at no particular alignment.
    let bias = if elf.header.e_type == header::ET_DYN {
        top_down_bias(mm, &host, &elf, PAGE_SIZE)?
    } else {
        0
    };
    map_segments(mm, &host, &file, &elf, bias)?;
    Ok((bias, GuestAddr(elf.header.e_entry.wrapping_add(bias))))
}

/// The load bias that puts an ET_DYN image where an mmap of its whole span would go, top-down
/// below the mmap base, its start aligned to `align`: `elf_map` with no address and
/// `total_mapping_size` (fs/binfmt_elf.c).
fn top_down_bias(
    mm: &mut AddressSpace,
    path: &Path,
    elf: &Image,
    align: u64,
) -> Result<u64, LoadError> {
    let (low, span) = load_span(elf);
    let span = span.max(PAGE_SIZE);
    let map_err = |errno| LoadError::Map { path: path.to_owned(), vaddr: low, errno };
    // Room for the span at any alignment: the highest aligned start in it is the answer.
    let len = span.checked_add(align - PAGE_SIZE).ok_or(map_err(elfvisor_abi::Errno::ENOMEM))?;
    let found = mm
        .mmap(MmapRequest {
            addr: GuestAddr(0),
            len,
            prot: Prot::NONE,
            flags: MAP_PRIVATE | MAP_ANONYMOUS,
            file: None,
            name: VmaName::None,
        })
        .map_err(map_err)?;
    mm.munmap(found, len).map_err(map_err)?;
    // In bounds: `found + len` is the end of a mapping that was just made.
    let start = (found.0 + len - span) & !(align - 1);
    Ok(start.wrapping_sub(low))
}

/// The guest address of the program headers (AT_PHDR).
fn phdr_addr(elf: &Image, bias: u64) -> u64 {
    if let Some(ph) = elf.program_headers.iter().find(|p| p.p_type == program_header::PT_PHDR) {
        return ph.p_vaddr + bias;
    }
    let phoff = elf.header.e_phoff;
    elf.program_headers
        .iter()
        .filter(|p| p.p_type == program_header::PT_LOAD)
        .find(|p| p.p_offset <= phoff && phoff < p.p_offset + p.p_filesz)
        .map_or(0, |p| p.p_vaddr + bias + (phoff - p.p_offset))
}

/// Lays out the initial stack below `top` and returns the stack pointer (at argc).
fn build_stack(
    mm: &AddressSpace,
    top: GuestAddr,
    auxv: &mut Vec<(u64, u64)>,
    s: &Startup<'_>,
) -> Result<(GuestAddr, elfvisor_mm::Startup), elfvisor_abi::Errno> {
    let floor = top.0 - STACK_SIZE;
    let mut sp = top.0 - 16;
    let mut push_bytes = |bytes: &[u8]| -> Result<u64, elfvisor_abi::Errno> {
        sp = sp
            .checked_sub(bytes.len() as u64)
            .filter(|&v| v >= floor)
            .ok_or(elfvisor_abi::Errno::E2BIG)?;
        mm.copy_out(GuestAddr(sp), bytes)?;
        Ok(sp)
    };
    let cstr = |b: &[u8]| {
        let mut v = b.to_vec();
        v.push(0);
        v
    };
    let execfn = push_bytes(&cstr(s.execfn))?;
    let mut env_ptrs = Vec::new();
    for e in s.envp.iter().rev() {
        env_ptrs.push(push_bytes(&cstr(e))?);
    }
    env_ptrs.reverse();
    let mut arg_ptrs = Vec::new();
    for a in s.argv.iter().rev() {
        arg_ptrs.push(push_bytes(&cstr(a))?);
    }
    arg_ptrs.reverse();
    let platform = push_bytes(b"aarch64\0")?;
    let random = push_bytes(&s.random)?;
    auxv.extend([(AT_RANDOM, random), (AT_EXECFN, execfn), (AT_PLATFORM, platform), (AT_NULL, 0)]);

    // Arguments then environment, each contiguous (argv[0] lowest), as Linux's
    // mm->arg_start..arg_end and env_start..env_end.
    let args_start =
        arg_ptrs.first().copied().unwrap_or(env_ptrs.first().copied().unwrap_or(execfn));
    let env_start = env_ptrs.first().copied().unwrap_or(execfn);
    let mut record = elfvisor_mm::Startup {
        args: (GuestAddr(args_start), GuestAddr(env_start)),
        env: (GuestAddr(env_start), GuestAddr(execfn)),
        auxv: auxv.clone(),
        stack: GuestAddr(0),
    };
    let words = 1 + arg_ptrs.len() + 1 + env_ptrs.len() + 1 + 2 * auxv.len();
    let mut sp = sp
        .checked_sub(8 * words as u64)
        .filter(|&v| v >= floor + PAGE_SIZE)
        .ok_or(elfvisor_abi::Errno::E2BIG)?
        & !15;
    let start = sp;
    let mut table: Vec<u64> = Vec::with_capacity(words);
    let mut push = |v: u64| table.push(v);
    push(arg_ptrs.len() as u64);
    arg_ptrs.iter().for_each(|p| push(*p));
    push(0);
    env_ptrs.iter().for_each(|p| push(*p));
    push(0);
    for (k, v) in auxv.iter() {
        push(*k);
        push(*v);
    }
    mm.write_objs(GuestAddr(sp), &table)?;
    sp = start;
    record.stack = GuestAddr(sp);
    Ok((GuestAddr(sp), record))
}

/// Loads `path` into `mm` (which must be empty) and prepares the stack.
pub fn load(
    mm: &mut AddressSpace,
    path: &Path,
    startup: &Startup<'_>,
) -> Result<Loaded, LoadError> {
    let open_err = |source| LoadError::Open { path: path.to_owned(), source };
    let file = Arc::new(File::open(path).map_err(open_err)?);
    let elf = read_image(path, &file)?;
    // load_elf_binary: an ET_DYN program with an interpreter goes at ELF_ET_DYN_BASE (aligned
    // to its largest segment alignment), less its first segment's address; one without (a
    // static-pie program, or the dynamic loader run as a command) where an mmap of its span
    // would go, top-down below the mmap base, aligned to its largest segment alignment.
    let bias = match (elf.header.e_type, &elf.interp) {
        (header::ET_DYN, Some(_)) => {
            let base = et_dyn_base(mm.arena_size()) & !(max_alignment(&elf) - 1);
            base.wrapping_sub(load_span(&elf).0)
        }
        (header::ET_DYN, None) => top_down_bias(mm, path, &elf, max_alignment(&elf))?,
        _ => 0,
    };
    let image_end = map_segments(mm, path, &file, &elf, bias)?;
    // The break follows the program, never the interpreter; for an ET_DYN program without an
    // interpreter it moves out of the mmap area (where it would soon meet the stack) to
    // ELF_ET_DYN_BASE, page aligned up, with or without address randomisation
    // (load_elf_binary, since "binfmt_elf: Move brk for static PIE even if ASLR disabled").
    let brk_start = match (elf.header.e_type, &elf.interp) {
        (header::ET_DYN, None) => GuestAddr((mm.arena_size() / 3 * 2).next_multiple_of(PAGE_SIZE)),
        _ => image_end,
    };
    mm.init_brk(brk_start);
    // load_elf_binary: start_data is the highest segment's start, end_data the highest end of
    // file bytes; brk counts their distance against RLIMIT_DATA.
    let loads = || elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD);
    let start_data = loads().map(|p| p.p_vaddr).max().unwrap_or(0);
    let end_data = loads().map(|p| p.p_vaddr.saturating_add(p.p_filesz)).max().unwrap_or(0);
    mm.set_data_size(end_data.saturating_sub(start_data));

    let stack_err = |errno| LoadError::Map { path: path.to_owned(), vaddr: 0, errno };
    let top = mm.layout().stack_top;
    let stack_start = GuestAddr(top.0 - STACK_SIZE);
    mm.mmap(MmapRequest {
        addr: stack_start,
        len: STACK_SIZE,
        prot: Prot::RW,
        flags: MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN,
        file: None,
        name: VmaName::Stack,
    })
    .map_err(stack_err)?;
    // A guard page below the stack: an overflow faults instead of running into other data.
    mm.mmap(MmapRequest {
        addr: GuestAddr(stack_start.0 - PAGE_SIZE),
        len: PAGE_SIZE,
        prot: Prot::NONE,
        flags: MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
        file: None,
        name: VmaName::None,
    })
    .map_err(stack_err)?;

    // The interpreter is mapped after the program and its break, before the vDSO.
    let interp = match &elf.interp {
        Some(name) => Some(map_interp(mm, path, name)?),
        None => None,
    };
    let vdso = crate::vdso::map(mm).map_err(stack_err)?;
    // Linux does not check the entry point either: a bad one faults on the first fetch.
    let program_entry = GuestAddr(elf.header.e_entry.wrapping_add(bias));
    // A dynamic program starts in its interpreter; AT_ENTRY still names its own entry.
    let (interp_base, entry) = interp.unwrap_or((0, program_entry));
    let (uid, euid, gid, egid) = startup.ids;
    // arm64's ARCH_DLINFO entries come first (`create_elf_tables`), then the generic ones.
    let mut auxv = vec![
        (AT_SYSINFO_EHDR, vdso.base.0),
        (AT_MINSIGSTKSZ, elfvisor_abi::signal::MINSIGSTKSZ),
        (AT_HWCAP, startup.hwcaps.0),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, 100),
        (AT_PHDR, phdr_addr(&elf, bias)),
        (AT_PHENT, u64::from(elf.header.e_phentsize)),
        (AT_PHNUM, elf.program_headers.len() as u64),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, program_entry.0),
        (AT_UID, u64::from(uid)),
        (AT_EUID, u64::from(euid)),
        (AT_GID, u64::from(gid)),
        (AT_EGID, u64::from(egid)),
        (AT_SECURE, 0),
        (AT_HWCAP2, startup.hwcaps.1),
    ];
    let (sp, record) = build_stack(mm, top, &mut auxv, startup)
        .map_err(|_| LoadError::ArgsTooLong { path: path.to_owned() })?;
    mm.set_startup(record);
    let exe = crate::sysroot::guest_name(
        &std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
    );
    Ok(Loaded { entry, sp, exe, sigreturn_trampoline: vdso.rt_sigreturn })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tiny_elf;

    fn startup() -> Startup<'static> {
        Startup {
            argv: &[],
            envp: &[],
            execfn: b"x",
            hwcaps: (3, 0),
            random: [7; 16],
            ids: (0, 0, 0, 0),
        }
    }

    fn load_bytes(bytes: &[u8]) -> Result<Loaded, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prog");
        std::fs::write(&path, bytes).unwrap();
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        load(&mut mm, &path, &startup())
    }

    #[test]
    fn test_tiny_elf_loads_with_a_stack() {
        let loaded = load_bytes(&tiny_elf(&[0; 8])).unwrap();
        assert_eq!(loaded.entry, GuestAddr(0x400078));
        assert_eq!(loaded.sp.0 % 16, 0);
    }

    #[test]
    fn test_an_et_dyn_program_without_an_interpreter_goes_top_down_its_break_apart() {
        let mut elf = tiny_elf(&[0; 8]);
        elf[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        elf[24..32].copy_from_slice(&0x78u64.to_le_bytes()); // e_entry
        let ph = 64;
        elf[ph + 16..ph + 32].fill(0); // p_vaddr, p_paddr
        elf[ph + 48..ph + 56].copy_from_slice(&0x10000u64.to_le_bytes()); // p_align
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prog");
        std::fs::write(&path, &elf).unwrap();
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        let loaded = load(&mut mm, &path, &startup()).unwrap();
        // The highest 64 KiB-aligned start whose one page fits below the mmap base.
        let bias = (mm.layout().mmap_top.0 - PAGE_SIZE) & !0xffff;
        assert_eq!(loaded.entry, GuestAddr(bias + 0x78));
        let brk = ((1u64 << 32) / 3 * 2).next_multiple_of(PAGE_SIZE);
        assert_eq!(mm.brk_state(), Some((GuestAddr(brk), GuestAddr(brk))));
    }

    #[test]
    fn test_not_an_elf() {
        assert!(matches!(load_bytes(b"#!/bin/sh\n"), Err(LoadError::NotElf { .. })));
        assert!(matches!(load_bytes(b""), Err(LoadError::NotElf { .. })));
    }

    #[test]
    fn test_wrong_machine() {
        let mut elf = tiny_elf(&[0; 8]);
        elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        let err = load_bytes(&elf).unwrap_err();
        assert!(
            matches!(&err, LoadError::WrongMachine { what, .. } if what.contains("X86_64")),
            "{err}"
        );
        let mut elf = tiny_elf(&[0; 8]);
        elf[4] = 1; // 32-bit
        assert!(matches!(load_bytes(&elf), Err(LoadError::WrongMachine { .. })));
    }

    #[test]
    fn test_truncated_and_inconsistent_headers() {
        let elf = tiny_elf(&[0; 8]);
        assert!(matches!(load_bytes(&elf[..40]), Err(LoadError::Malformed { .. })));
        let mut bad = elf.clone();
        bad[64 + 32..64 + 40].copy_from_slice(&0x10_0000u64.to_le_bytes()); // filesz past EOF
        let err = load_bytes(&bad).unwrap_err();
        assert!(
            matches!(&err, LoadError::Malformed { detail, .. } if detail.contains("past the end")),
            "{err}"
        );
        let mut bad = elf.clone();
        bad[64 + 40..64 + 48].copy_from_slice(&1u64.to_le_bytes()); // memsz < filesz
        assert!(matches!(load_bytes(&bad), Err(LoadError::Malformed { .. })));
        let mut bad = elf.clone();
        bad[56..58].copy_from_slice(&0u16.to_le_bytes()); // no program headers
        assert!(matches!(load_bytes(&bad), Err(LoadError::Malformed { .. })));
    }

    #[test]
    fn test_segment_outside_the_arena() {
        let mut elf = tiny_elf(&[0; 8]);
        elf[64 + 16..64 + 24].copy_from_slice(&(1u64 << 45).to_le_bytes());
        assert!(matches!(load_bytes(&elf), Err(LoadError::OutOfRange { .. })));
    }

    #[test]
    fn test_a_missing_interpreter_is_named() {
        let err = load_bytes(&rebuild_with_interp()).unwrap_err();
        assert!(
            matches!(&err, LoadError::Interp { interp, errno: elfvisor_abi::Errno::ENOENT, .. }
                if interp == "/nonexistent/ld-linux-aarch64.so.1"),
            "{err}"
        );
        assert!(err.to_string().contains("--sysroot"));
    }

    /// A tiny ELF with a PT_INTERP header before its PT_LOAD.
    fn rebuild_with_interp() -> Vec<u8> {
        let interp = b"/nonexistent/ld-linux-aarch64.so.1\0";
        let mut elf = tiny_elf(&[0; 8]);
        let load = elf[64..120].to_vec();
        let phoff = elf.len() as u64;
        let interp_at = phoff + 2 * 56;
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
        ph[8..16].copy_from_slice(&interp_at.to_le_bytes());
        ph[32..40].copy_from_slice(&(interp.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&(interp.len() as u64).to_le_bytes());
        elf.extend_from_slice(&ph);
        elf.extend_from_slice(&load);
        elf.extend_from_slice(interp);
        elf[32..40].copy_from_slice(&phoff.to_le_bytes());
        elf[56..58].copy_from_slice(&2u16.to_le_bytes());
        elf
    }

    #[test]
    fn test_arguments_that_do_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prog");
        std::fs::write(&path, tiny_elf(&[0; 8])).unwrap();
        let big = vec![vec![b'x'; 1 << 20]; 9];
        let s = Startup { argv: &big, ..startup() };
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        assert!(matches!(load(&mut mm, &path, &s), Err(LoadError::ArgsTooLong { .. })));
    }

    #[test]
    fn test_missing_file() {
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        let err = load(&mut mm, Path::new("/nonexistent/prog"), &startup()).unwrap_err();
        assert!(matches!(err, LoadError::Open { .. }));
        assert_eq!(err.to_string(), "cannot open /nonexistent/prog");
    }
}

//! What a respawned child needs besides memory bytes and descriptors: registers, signal state,
//! the VMA table, the heap, the fd numbers. Encoded by the parent, validated by the child
//! before it maps anything.

use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};
use elfvisor_engine::Registers;
use elfvisor_mm::{Startup, VmaName};

use super::wire::{Reader, WireError, Writer};
use crate::signal::signalfd::Inherited;
use crate::task::types::HwCaps;
use elfvisor_abi::prctl::TASK_COMM_LEN;
use elfvisor_abi::signal::{Sigaction, StackT};

pub const MAGIC: u64 = u64::from_le_bytes(*b"ELFVFORK");
pub const VERSION: u32 = 9;

/// The first message: what follows, so the child can check every later count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    pub version: u32,
    /// The child forks by `respawn-snapshot` (else `respawn-copy`).
    pub snapshot: bool,
    /// Private anonymous memory arrives as frozen layers (LAYERS) rather than bytes (MEMORY):
    /// every snapshot fork, and a copy fork's `CLONE_VM` child, which must tell the pages it
    /// writes from those it was given.
    pub layers: bool,
    pub trace: bool,
    pub vmas: u32,
    pub fds: u32,
    pub backings: u32,
    /// Shared objects behind `MAP_SHARED` mappings and SysV attaches.
    pub objects: u32,
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u64(MAGIC).u32(self.version).u8(u8::from(self.snapshot)).u8(u8::from(self.layers));
        w.u8(u8::from(self.trace));
        w.u32(self.vmas).u32(self.fds).u32(self.backings).u32(self.objects);
        w.0
    }

    pub fn decode(b: &[u8]) -> Result<Hello, WireError> {
        let mut r = Reader::new(b, "hello");
        if r.u64()? != MAGIC {
            return Err(WireError::Malformed("hello (magic)"));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(WireError::Version(version, VERSION));
        }
        let hello = Hello {
            version,
            snapshot: r.u8()? != 0,
            layers: r.u8()? != 0,
            trace: r.u8()? != 0,
            vmas: r.u32()?,
            fds: r.u32()?,
            backings: r.u32()?,
            objects: r.u32()?,
        };
        r.finish()?;
        Ok(hello)
    }
}

/// Registers and process state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The child's registers (x0 = 0: fork returns 0 there).
    pub regs: Registers,
    pub sigmask: u64,
    pub altstack: StackT,
    pub sigactions: [Sigaction; 64],
    pub sigreturn_trampoline: u64,
    pub hwcaps: HwCaps,
    pub brk: Option<(u64, u64)>,
    pub exe: Vec<u8>,
    /// The forking thread's name (`comm`), which the child starts with.
    pub comm: Vec<u8>,
    /// clone flags the child applies to itself (CHILD_SETTID, CHILD_CLEARTID) and their address.
    pub clone_flags: u64,
    pub child_tid: u64,
    /// Guest fd numbers and FD_CLOEXEC, in the order their host descriptors are sent.
    pub fds: Vec<(u32, bool)>,
    /// The guest's RLIMIT_NOFILE (soft, hard): guest state, not the emulator's host limit.
    pub nofile: (u64, u64),
    /// The guest's RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK (soft, hard), and the program's
    /// data size that `brk` counts against RLIMIT_DATA: guest state of the address space.
    pub vm_limits: [(u64, u64); 3],
    pub data_size: u64,
    /// The guest's RLIMIT_FSIZE (soft, hard), kept with the descriptor table.
    pub fsize: (u64, u64),
    /// The process's `personality`.
    pub personality: u32,
    /// The forking thread's NUMA policy (mode, nodes).
    pub mempolicy: (u32, u64),
    /// The program's argument and environment ranges and auxiliary vector (`/proc`).
    pub startup: Startup,
    /// The signalfds among the descriptors: each one's mask and guest numbers. The child
    /// gives each its own readiness eventfd (`signal::signalfd::renew`).
    pub signalfds: Vec<Inherited>,
    /// `PR_GET_DUMPABLE` (0, 1, or 2 after a credential change under `suid_dumpable` 2): a
    /// fork child keeps its parent's (the mm's flags), a freshly executed emulator would not.
    pub dumpable: u8,
    /// The address space has Linux's randomized layout (`AddressSpace::randomize_layout`).
    pub randomized: bool,
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let r = &self.regs;
        r.x.iter().for_each(|v| {
            w.u64(*v);
        });
        w.u64(r.sp).u64(r.pc).u64(r.nzcv).u64(r.tpidr).u64(r.fpcr).u64(r.fpsr);
        r.q.iter().for_each(|v| {
            w.u128(*v);
        });
        w.u64(self.sigmask).u64(self.altstack.sp).u32(self.altstack.flags).u64(self.altstack.size);
        for a in &self.sigactions {
            w.u64(a.handler).u64(a.flags).u64(a.restorer).u64(a.mask);
        }
        w.u64(self.sigreturn_trampoline).u64(self.hwcaps.hwcap).u64(self.hwcaps.hwcap2);
        match self.brk {
            Some((start, cur)) => w.u8(1).u64(start).u64(cur),
            None => w.u8(0),
        };
        w.bytes(&self.exe).bytes(&self.comm).u64(self.clone_flags).u64(self.child_tid);
        w.u32(self.fds.len() as u32);
        for (fd, cloexec) in &self.fds {
            w.u32(*fd).u8(u8::from(*cloexec));
        }
        w.u64(self.nofile.0).u64(self.nofile.1).u32(self.personality);
        for (soft, hard) in self.vm_limits {
            w.u64(soft).u64(hard);
        }
        w.u64(self.data_size);
        w.u64(self.fsize.0).u64(self.fsize.1);
        w.u32(self.mempolicy.0).u64(self.mempolicy.1);
        let s = &self.startup;
        w.u64(s.args.0.0).u64(s.args.1.0).u64(s.env.0.0).u64(s.env.1.0).u64(s.stack.0);
        w.u32(s.auxv.len() as u32);
        for (k, v) in &s.auxv {
            w.u64(*k).u64(*v);
        }
        w.u32(self.signalfds.len() as u32);
        for sfd in &self.signalfds {
            w.u64(sfd.mask).u32(sfd.fds.len() as u32);
            for n in &sfd.fds {
                w.u32(*n);
            }
        }
        w.u8(self.dumpable).u8(u8::from(self.randomized));
        w.0
    }

    pub fn decode(b: &[u8]) -> Result<State, WireError> {
        let mut r = Reader::new(b, "state");
        let mut x = [0u64; 31];
        for v in &mut x {
            *v = r.u64()?;
        }
        let (sp, pc, nzcv, tpidr, fpcr, fpsr) =
            (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let mut q = [0u128; 32];
        for v in &mut q {
            *v = r.u128()?;
        }
        let sigmask = r.u64()?;
        let altstack = StackT { sp: r.u64()?, flags: r.u32()?, size: r.u64()? };
        let mut sigactions = [Sigaction::default(); 64];
        for a in &mut sigactions {
            *a = Sigaction {
                handler: r.u64()?,
                flags: r.u64()?,
                restorer: r.u64()?,
                mask: r.u64()?,
            };
        }
        let sigreturn_trampoline = r.u64()?;
        let hwcaps = HwCaps { hwcap: r.u64()?, hwcap2: r.u64()? };
        let brk = match r.u8()? {
            0 => None,
            1 => Some((r.u64()?, r.u64()?)),
            _ => return Err(WireError::Malformed("state (brk)")),
        };
        let exe = r.bytes()?.to_vec();
        let comm = r.bytes()?.to_vec();
        if comm.len() > TASK_COMM_LEN {
            return Err(WireError::Malformed("state (comm)"));
        }
        let (clone_flags, child_tid) = (r.u64()?, r.u64()?);
        let n = r.u32()? as usize;
        let mut fds = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            let fd = r.u32()?;
            let cloexec = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(WireError::Malformed("state (fd flags)")),
            };
            fds.push((fd, cloexec));
        }
        let nofile = (r.u64()?, r.u64()?);
        let personality = r.u32()?;
        let mut vm_limits = [(0, 0); 3];
        for limit in &mut vm_limits {
            *limit = (r.u64()?, r.u64()?);
        }
        let data_size = r.u64()?;
        let fsize = (r.u64()?, r.u64()?);
        let mempolicy = (r.u32()?, r.u64()?);
        let args = (GuestAddr(r.u64()?), GuestAddr(r.u64()?));
        let env = (GuestAddr(r.u64()?), GuestAddr(r.u64()?));
        let stack = GuestAddr(r.u64()?);
        let n = r.u32()? as usize;
        if n > 64 {
            return Err(WireError::Malformed("state (auxv)"));
        }
        let mut auxv = Vec::with_capacity(n);
        for _ in 0..n {
            auxv.push((r.u64()?, r.u64()?));
        }
        let startup = Startup { args, env, auxv, stack };
        // Each signalfd names descriptors of `fds`, ascending, and no descriptor names two.
        let count = r.u32()? as usize;
        if count > fds.len() {
            return Err(WireError::Malformed("state (signalfd count)"));
        }
        let mut signalfds = Vec::with_capacity(count);
        let mut named = std::collections::BTreeSet::new();
        for _ in 0..count {
            let mask = r.u64()?;
            let n = r.u32()? as usize;
            if n == 0 || n > fds.len() {
                return Err(WireError::Malformed("state (signalfd descriptors)"));
            }
            let mut numbers = Vec::with_capacity(n);
            for _ in 0..n {
                let fd = r.u32()?;
                if !named.insert(fd) || fds.binary_search_by_key(&fd, |(f, _)| *f).is_err() {
                    return Err(WireError::Malformed("state (signalfd descriptor)"));
                }
                numbers.push(fd);
            }
            if numbers.windows(2).any(|w| w[0] >= w[1]) {
                return Err(WireError::Malformed("state (signalfd descriptors not ascending)"));
            }
            signalfds.push(Inherited { mask, fds: numbers });
        }
        let dumpable = r.u8()?;
        if dumpable > 2 {
            return Err(WireError::Malformed("state (dumpable)"));
        }
        let randomized = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Malformed("state (layout)")),
        };
        r.finish()?;
        if nofile.0 > nofile.1 {
            return Err(WireError::Malformed("state (RLIMIT_NOFILE)"));
        }
        if vm_limits.iter().chain([&fsize]).any(|(soft, hard)| soft > hard) {
            return Err(WireError::Malformed("state (memory limits)"));
        }
        if let Some((start, cur)) = brk {
            if start % PAGE_SIZE != 0 || cur < start {
                return Err(WireError::Malformed("state (brk)"));
            }
        }
        if fds.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(WireError::Malformed("state (fd numbers not ascending)"));
        }
        Ok(State {
            regs: Registers { x, sp, pc, nzcv, tpidr, fpcr, fpsr, q },
            sigmask,
            altstack,
            sigactions,
            sigreturn_trampoline,
            hwcaps,
            brk,
            exe,
            comm,
            clone_flags,
            child_tid,
            fds,
            nofile,
            vm_limits,
            data_size,
            fsize,
            personality,
            mempolicy,
            startup,
            signalfds,
            dumpable,
            randomized,
        })
    }
}

/// One VMA as the child rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaRecord {
    pub start: GuestAddr,
    pub end: GuestAddr,
    pub prot: Prot,
    pub shared: bool,
    pub grows_down: bool,
    /// `MADV_WIPEONFORK` private anonymous memory: the child gets zero pages, no bytes travel.
    pub wipe: bool,
    /// Private anonymous memory the parent wrote (`VmaFlags::ANON`, Linux's `anon_vma`): only
    /// such a VMA has resident pages in the child.
    pub anon: bool,
    /// Index into the backing descriptors (private file mappings) or the shared objects
    /// (shared mappings), and the offset into it.
    pub backing: Option<(u32, u64)>,
    pub name: VmaName,
}

impl VmaRecord {
    pub fn encode(&self, w: &mut Writer) {
        w.u64(self.start.0).u64(self.end.0).u32(self.prot.0);
        w.u8(u8::from(self.shared)
            | (u8::from(self.grows_down) << 1)
            | (u8::from(self.wipe) << 2)
            | (u8::from(self.anon) << 3));
        match self.backing {
            Some((i, off)) => w.u8(1).u32(i).u64(off),
            None => w.u8(0),
        };
        match &self.name {
            VmaName::None => w.u8(0),
            VmaName::Heap => w.u8(1),
            VmaName::Stack => w.u8(2),
            VmaName::Path(p) => w.u8(3).bytes(p.as_bytes()),
        };
    }

    /// Decodes and validates one record against the arena size and the backing and shared
    /// object counts.
    pub fn decode(
        r: &mut Reader<'_>,
        arena: u64,
        backings: u32,
        objects: u32,
    ) -> Result<VmaRecord, WireError> {
        let (start, end, prot) = (r.u64()?, r.u64()?, r.u32()?);
        let flags = r.u8()?;
        let backing = match r.u8()? {
            0 => None,
            1 => Some((r.u32()?, r.u64()?)),
            _ => return Err(WireError::Malformed("vma (backing)")),
        };
        let name = match r.u8()? {
            0 => VmaName::None,
            1 => VmaName::Heap,
            2 => VmaName::Stack,
            3 => VmaName::Path(String::from_utf8_lossy(r.bytes()?).into_owned()),
            _ => return Err(WireError::Malformed("vma (name)")),
        };
        let aligned = |v: u64| v % PAGE_SIZE == 0;
        if !aligned(start) || !aligned(end) || start >= end || end > arena || flags > 15 {
            return Err(WireError::Malformed("vma (range)"));
        }
        if prot & !Prot::RWX.0 != 0 {
            return Err(WireError::Malformed("vma (protection)"));
        }
        let shared = flags & 1 != 0;
        if let Some((i, off)) = backing {
            let limit = if shared { objects } else { backings };
            if i >= limit || !aligned(off) {
                return Err(WireError::Malformed("vma (backing index)"));
            }
        }
        if shared && backing.is_none() {
            return Err(WireError::Malformed("vma (shared without an object)"));
        }
        let (wipe, anon) = (flags & 4 != 0, flags & 8 != 0);
        if anon && (shared || wipe || backing.is_some()) {
            return Err(WireError::Malformed("vma (written, but not private anonymous memory)"));
        }
        Ok(VmaRecord {
            start: GuestAddr(start),
            end: GuestAddr(end),
            prot: Prot(prot),
            shared,
            grows_down: flags & 2 != 0,
            wipe,
            anon,
            backing,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            regs: Registers {
                x: [7; 31],
                sp: 1,
                pc: 2,
                nzcv: 3,
                tpidr: 4,
                fpcr: 5,
                fpsr: 6,
                q: [9; 32],
            },
            sigmask: 10,
            altstack: StackT { sp: 11, flags: 2, size: 12 },
            sigactions: [Sigaction { handler: 1, flags: 2, restorer: 3, mask: 4 }; 64],
            sigreturn_trampoline: 13,
            hwcaps: HwCaps { hwcap: 14, hwcap2: 15 },
            brk: Some((0x1000, 0x1800)),
            exe: b"/bin/prog".to_vec(),
            comm: b"worker".to_vec(),
            clone_flags: 16,
            child_tid: 17,
            fds: vec![(0, false), (1, false), (7, true)],
            nofile: (64, 4096),
            vm_limits: [(1 << 30, 1 << 31), (u64::MAX, u64::MAX), (8 << 20, u64::MAX)],
            data_size: 0x1234,
            fsize: (1 << 20, u64::MAX),
            personality: 0x0040000,
            mempolicy: (1, 1),
            startup: Startup {
                args: (GuestAddr(0x100), GuestAddr(0x110)),
                env: (GuestAddr(0x110), GuestAddr(0x120)),
                auxv: vec![(6, 4096), (0, 0)],
                stack: GuestAddr(0xf0),
            },
            signalfds: vec![Inherited { mask: 1 << 9, fds: vec![1, 7] }],
            dumpable: 0,
            randomized: true,
        }
    }

    #[test]
    fn test_state_round_trips_and_rejects_truncation() {
        let s = state();
        let bytes = s.encode();
        assert_eq!(State::decode(&bytes).unwrap(), s);
        assert!(State::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut unsorted = state();
        unsorted.fds = vec![(3, false), (1, false)];
        assert!(State::decode(&unsorted.encode()).is_err());
    }

    #[test]
    fn test_signalfds_must_name_distinct_sent_descriptors() {
        let with = |signalfds: Vec<Inherited>| State { signalfds, ..state() };
        let ok =
            with(vec![Inherited { mask: 1, fds: vec![0] }, Inherited { mask: 2, fds: vec![7] }]);
        assert_eq!(State::decode(&ok.encode()).unwrap(), ok);
        for bad in [
            vec![Inherited { mask: 1, fds: vec![] }],
            vec![Inherited { mask: 1, fds: vec![3] }],
            vec![Inherited { mask: 1, fds: vec![7, 1] }],
            vec![Inherited { mask: 1, fds: vec![1] }, Inherited { mask: 2, fds: vec![1] }],
            vec![Inherited { mask: 1, fds: vec![0] }; 4],
        ] {
            assert!(
                matches!(State::decode(&with(bad.clone()).encode()), Err(WireError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn test_hello_checks_magic_and_version() {
        let h = Hello {
            version: VERSION,
            snapshot: true,
            layers: true,
            trace: false,
            vmas: 3,
            fds: 2,
            backings: 1,
            objects: 4,
        };
        assert_eq!(Hello::decode(&h.encode()).unwrap(), h);
        let old = Hello { version: 99, ..h };
        assert!(matches!(Hello::decode(&old.encode()), Err(WireError::Version(99, VERSION))));
        let mut bad = h.encode();
        bad[0] ^= 1;
        assert!(Hello::decode(&bad).is_err());
    }

    #[test]
    fn test_vma_records_are_validated() {
        let rec = VmaRecord {
            start: GuestAddr(0x10000),
            end: GuestAddr(0x12000),
            prot: Prot::RW,
            shared: false,
            grows_down: false,
            wipe: false,
            anon: false,
            backing: Some((0, 0x1000)),
            name: VmaName::Path("/x".into()),
        };
        let mut w = Writer::default();
        rec.encode(&mut w);
        let decode = |w: &Writer, arena, backings, objects| {
            VmaRecord::decode(&mut Reader::new(&w.0, "vma"), arena, backings, objects)
        };
        assert_eq!(decode(&w, 1 << 32, 1, 0).unwrap(), rec);
        assert!(decode(&w, 1 << 32, 0, 1).is_err(), "no such backing");
        assert!(decode(&w, 0x11000, 1, 0).is_err(), "past the arena");
        let mut w = Writer::default();
        VmaRecord { start: GuestAddr(0x10001), ..rec.clone() }.encode(&mut w);
        assert!(decode(&w, 1 << 32, 1, 0).is_err(), "unaligned");
        let mut w = Writer::default();
        VmaRecord { shared: true, ..rec.clone() }.encode(&mut w);
        assert!(decode(&w, 1 << 32, 1, 0).is_err(), "no such shared object");
        assert!(decode(&w, 1 << 32, 0, 1).is_ok());
        let mut w = Writer::default();
        VmaRecord { anon: true, ..rec.clone() }.encode(&mut w);
        assert!(decode(&w, 1 << 32, 1, 0).is_err(), "a written file mapping");
        let anon = VmaRecord { anon: true, backing: None, ..rec };
        let mut w = Writer::default();
        anon.encode(&mut w);
        assert_eq!(decode(&w, 1 << 32, 0, 0).unwrap(), anon);
        let mut w = Writer::default();
        VmaRecord { wipe: true, ..anon }.encode(&mut w);
        assert!(decode(&w, 1 << 32, 0, 0).is_err(), "wiped: nothing of it was written");
    }
}

/// A shared object as the child restores it (`SharedObject::restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectRecord {
    /// 0 file, 1 anonymous (memfd), 2 SysV segment.
    pub kind: u8,
    pub shmid: i32,
    pub key: i32,
    pub size: u64,
    pub max_prot: u32,
}

impl ObjectRecord {
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.kind)
            .u32(self.shmid as u32)
            .u32(self.key as u32)
            .u64(self.size)
            .u32(self.max_prot);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<ObjectRecord, WireError> {
        let rec = ObjectRecord {
            kind: r.u8()?,
            shmid: r.u32()? as i32,
            key: r.u32()? as i32,
            size: r.u64()?,
            max_prot: r.u32()?,
        };
        if rec.kind > 2 || rec.max_prot & !Prot::RWX.0 != 0 {
            return Err(WireError::Malformed("shared object"));
        }
        Ok(rec)
    }

    /// Objects with a descriptor (files and memfds) get one in the object descriptor batch.
    pub fn has_fd(&self) -> bool {
        self.kind != 2
    }
}

/// One frozen layer of a private anonymous VMA (`respawn-snapshot`): guest `[start, end)` is
/// frozen object `object` from byte `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerRecord {
    pub vma: u32,
    pub start: u64,
    pub end: u64,
    pub object: u32,
    pub offset: u64,
}

impl LayerRecord {
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.vma).u64(self.start).u64(self.end).u32(self.object).u64(self.offset);
    }

    /// Decodes one record and checks it against the VMA table (a private anonymous VMA that
    /// contains it) and the object count.
    pub fn decode(
        r: &mut Reader<'_>,
        vmas: &[VmaRecord],
        objects: usize,
    ) -> Result<LayerRecord, WireError> {
        let rec = LayerRecord {
            vma: r.u32()?,
            start: r.u64()?,
            end: r.u64()?,
            object: r.u32()?,
            offset: r.u64()?,
        };
        let aligned = |v: u64| v % PAGE_SIZE == 0;
        let vma = vmas.get(rec.vma as usize).ok_or(WireError::Malformed("layer (vma index)"))?;
        if vma.shared || vma.wipe || vma.backing.is_some() {
            return Err(WireError::Malformed("layer (not private anonymous memory)"));
        }
        if !aligned(rec.start)
            || !aligned(rec.end)
            || !aligned(rec.offset)
            || rec.start >= rec.end
            || rec.start < vma.start.0
            || rec.end > vma.end.0
        {
            return Err(WireError::Malformed("layer (range)"));
        }
        if rec.object as usize >= objects {
            return Err(WireError::Malformed("layer (object index)"));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod layer_tests {
    use super::*;

    #[test]
    fn test_layer_records_must_lie_in_private_anonymous_vmas() {
        let anon = VmaRecord {
            start: GuestAddr(0x10000),
            end: GuestAddr(0x14000),
            prot: Prot::RW,
            shared: false,
            grows_down: false,
            wipe: false,
            anon: true,
            backing: None,
            name: VmaName::None,
        };
        let file = VmaRecord { backing: Some((0, 0)), anon: false, ..anon.clone() };
        let vmas = [anon, file];
        let rec = LayerRecord { vma: 0, start: 0x11000, end: 0x13000, object: 1, offset: 0x2000 };
        let decode = |rec: LayerRecord, objects| {
            let mut w = Writer::default();
            rec.encode(&mut w);
            LayerRecord::decode(&mut Reader::new(&w.0, "layer"), &vmas, objects)
        };
        assert_eq!(decode(rec, 2).unwrap(), rec);
        assert!(decode(rec, 1).is_err(), "no such object");
        assert!(decode(LayerRecord { vma: 1, ..rec }, 2).is_err(), "a file mapping");
        assert!(decode(LayerRecord { vma: 2, ..rec }, 2).is_err(), "no such vma");
        assert!(decode(LayerRecord { end: 0x15000, ..rec }, 2).is_err(), "past its vma");
        assert!(decode(LayerRecord { offset: 0x10, ..rec }, 2).is_err(), "unaligned");
        assert!(decode(LayerRecord { end: 0x11000, ..rec }, 2).is_err(), "empty");
    }
}

/// Which pages of one written private anonymous VMA are resident in the parent (`mincore`),
/// and so must be in the child, as after Linux's `copy_page_range`: maximal runs of guest
/// pages `[start, end)`, ascending. A VMA's runs may span several messages, each continuing
/// after the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentRecord {
    pub vma: u32,
    pub runs: Vec<(u64, u64)>,
}

impl ResidentRecord {
    /// Runs per message: (vma, count) and 16 bytes a run.
    pub const MAX_RUNS: usize = (super::wire::MAX_PAYLOAD - 8) / 16;

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(self.vma).u32(self.runs.len() as u32);
        for (start, end) in &self.runs {
            w.u64(*start).u64(*end);
        }
        w.0
    }

    /// Decodes one message and checks it against the VMA table (a written private anonymous
    /// VMA that contains every run) and `after`, where the previous message ended (its VMA
    /// and last run's end): VMAs come in ascending order, runs ascend and never touch (they
    /// are maximal), none is empty, and a message carries at least one.
    pub fn decode(
        b: &[u8],
        vmas: &[VmaRecord],
        after: Option<(u32, u64)>,
    ) -> Result<ResidentRecord, WireError> {
        let mut r = Reader::new(b, "residency");
        let (vma, count) = (r.u32()?, r.u32()? as usize);
        if count == 0 || count > Self::MAX_RUNS {
            return Err(WireError::Malformed("residency (count)"));
        }
        let mut runs = Vec::with_capacity(count);
        for _ in 0..count {
            runs.push((r.u64()?, r.u64()?));
        }
        r.finish()?;
        let rec = vmas.get(vma as usize).ok_or(WireError::Malformed("residency (vma index)"))?;
        if rec.shared || rec.wipe || rec.backing.is_some() || !rec.anon {
            return Err(WireError::Malformed("residency (not written private anonymous memory)"));
        }
        let mut floor = match after {
            Some((prev, _)) if prev > vma => {
                return Err(WireError::Malformed("residency (vma order)"));
            }
            // The next run must leave a gap after the previous one.
            Some((prev, end)) if prev == vma => end + 1,
            _ => rec.start.0,
        };
        let aligned = |v: u64| v % PAGE_SIZE == 0;
        for &(start, end) in &runs {
            if !aligned(start) || !aligned(end) || start < floor || start >= end || end > rec.end.0
            {
                return Err(WireError::Malformed("residency (run)"));
            }
            floor = end + 1;
        }
        Ok(ResidentRecord { vma, runs })
    }

    /// Where this message ends, for the next one's `after`.
    pub fn end(&self) -> (u32, u64) {
        (self.vma, self.runs.last().map_or(0, |r| r.1))
    }
}

#[cfg(test)]
mod resident_tests {
    use super::*;

    fn vmas() -> Vec<VmaRecord> {
        let anon = VmaRecord {
            start: GuestAddr(0x10000),
            end: GuestAddr(0x20000),
            prot: Prot::RW,
            shared: false,
            grows_down: false,
            wipe: false,
            anon: true,
            backing: None,
            name: VmaName::None,
        };
        let unwritten = VmaRecord { anon: false, ..anon.clone() };
        vec![anon, unwritten]
    }

    fn decode(
        runs: &[(u64, u64)],
        vma: u32,
        after: Option<(u32, u64)>,
    ) -> Result<ResidentRecord, WireError> {
        let rec = ResidentRecord { vma, runs: runs.to_vec() };
        ResidentRecord::decode(&rec.encode(), &vmas(), after)
    }

    #[test]
    fn test_resident_runs_round_trip() {
        let runs = [(0x10000, 0x12000), (0x15000, 0x20000)];
        let rec = decode(&runs, 0, None).unwrap();
        assert_eq!(rec.runs, runs);
        assert_eq!(rec.end(), (0, 0x20000));
        assert!(decode(&[(0x14000, 0x15000)], 0, Some((0, 0x12000))).is_ok(), "continues");
    }

    #[test]
    fn test_resident_runs_are_validated() {
        assert!(decode(&[], 0, None).is_err(), "no run");
        assert!(decode(&[(0x10000, 0x11000)], 1, None).is_err(), "a VMA never written");
        assert!(decode(&[(0x10000, 0x11000)], 2, None).is_err(), "no such VMA");
        assert!(decode(&[(0x10800, 0x11000)], 0, None).is_err(), "unaligned");
        assert!(decode(&[(0x11000, 0x11000)], 0, None).is_err(), "empty");
        assert!(decode(&[(0xf000, 0x11000)], 0, None).is_err(), "before the VMA");
        assert!(decode(&[(0x1f000, 0x21000)], 0, None).is_err(), "past the VMA");
        let touching = [(0x10000, 0x11000), (0x11000, 0x12000)];
        assert!(decode(&touching, 0, None).is_err(), "not maximal");
        let backwards = [(0x13000, 0x14000), (0x10000, 0x11000)];
        assert!(decode(&backwards, 0, None).is_err(), "descending");
        assert!(decode(&[(0x12000, 0x13000)], 0, Some((0, 0x12000))).is_err(), "touches");
        assert!(decode(&[(0x12000, 0x13000)], 0, Some((1, 0x12000))).is_err(), "vma order");
        let mut truncated = ResidentRecord { vma: 0, runs: vec![(0x10000, 0x11000)] }.encode();
        truncated.pop();
        assert!(ResidentRecord::decode(&truncated, &vmas(), None).is_err());
        let mut lying = ResidentRecord { vma: 0, runs: vec![(0x10000, 0x11000)] }.encode();
        lying[4] = 2;
        assert!(ResidentRecord::decode(&lying, &vmas(), None).is_err(), "count beyond the data");
    }
}

//! Every guest structure with a [`GuestObj`](crate::obj::GuestObj) layout, in one place. Each
//! is defined beside the values of its area; this module only gathers them.

pub use crate::event::{EpollEvent, SignalfdSiginfo};
pub use crate::fcntl::{Stat, Statfs};
pub use crate::futex::RobustListHead;
pub use crate::ioctl::{Termios, Winsize};
pub use crate::ipc::{Msginfo, MsqidDs, Sembuf, SemidDs, Seminfo};
pub use crate::obj::{GuestObj, decode_extensible};
pub use crate::poll::Pollfd;
pub use crate::resource::{Rlimit, Rusage};
pub use crate::sched::CloneArgs;
pub use crate::shm::{ShmLimits, ShmUsage, ShmidDs};
pub use crate::sigframe::{EsrContext, FpsimdContext};
pub use crate::signal::{SigFields, Sigaction, Siginfo, SiginfoLayout, StackT};
pub use crate::system::{Sysinfo, Utsname};
pub use crate::time::{Itimerspec, Itimerval, Timespec, Timeval, Timezone, Tms};
pub use crate::uio::Iovec;

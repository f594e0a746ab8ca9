//! POSIX message queues (`linux/mqueue.h`; the same layout on every 64-bit architecture).

use crate::guest_struct;

/// The largest priority plus one (`MQ_PRIO_MAX`).
pub const MQ_PRIO_MAX: u32 = 32768;
/// The length of a `SIGEV_THREAD` notification cookie (`NOTIFY_COOKIE_LEN`).
pub const NOTIFY_COOKIE_LEN: usize = 32;

guest_struct! {
    /// `struct mq_attr`: the queue's flags (only `O_NONBLOCK`), its limits and how many
    /// messages it holds, then four reserved longs (64 bytes).
    pub struct MqAttr: 64 {
        0 => pub flags: i64,
        8 => pub maxmsg: i64,
        16 => pub msgsize: i64,
        24 => pub curmsgs: i64,
    }
}

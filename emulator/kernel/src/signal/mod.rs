//! Guest signals: their values ([`info`]), delivery to a thread ([`delivery`]), the handler
//! frame ([`frame`]), the host signals forwarded to the guest ([`forward`]) and the guest's
//! signalfds ([`signalfd`]).

pub mod delivery;
pub mod forward;
pub mod frame;
pub mod info;
pub mod signalfd;

//! Guest signals: their values ([`info`]), delivery to a thread ([`delivery`]), the handler
//! frame ([`frame`]) and the host signals forwarded to the guest ([`forward`]).

pub mod delivery;
pub mod forward;
pub mod frame;
pub mod info;

//! The connection to gdb: the TCP stream, with the outgoing packets rewritten where gdbstub
//! has no word for what elfvisor reports. gdbstub (0.7) knows no exec event, so the `qSupported`
//! reply gains `exec-events+` and, after an `execve`, the next stop reply gains
//! `exec:<hex path>;` (gdb's remote protocol, "Stop Reply Packets"): gdb then drops what it knew
//! of the old image and loads the new program's symbols.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;

use gdbstub::conn::Connection;

/// The program an `execve` loaded, for the next stop reply.
static EXEC: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// The next stop reply reports an exec of `path`.
pub fn report_exec(path: &[u8]) {
    *EXEC.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_vec());
}

pub struct Wire {
    stream: TcpStream,
    /// The packet being written (from its `$`), and how many checksum digits are still to come.
    packet: Option<(Vec<u8>, u8)>,
}

impl Wire {
    pub fn new(stream: TcpStream) -> Wire {
        Wire { stream, packet: None }
    }
}

/// A whole packet `$body#xx` as it goes out, with its checksum made again.
fn rewrite(packet: &[u8]) -> Vec<u8> {
    let body = &packet[1..packet.len() - 3];
    let mut out = body.to_vec();
    if body.starts_with(b"PacketSize=") {
        out.extend_from_slice(b";exec-events+");
    } else if body.first() == Some(&b'T') && body.len() >= 3 {
        if let Some(path) = EXEC.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let hex: String = path.iter().map(|b| format!("{b:02x}")).collect();
            out = body[..3].to_vec();
            out.extend_from_slice(format!("exec:{hex};").as_bytes());
            out.extend_from_slice(&body[3..]);
        }
    } else {
        return packet.to_vec();
    }
    let sum = out.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    let mut whole = vec![b'$'];
    whole.extend_from_slice(&out);
    whole.extend_from_slice(format!("#{sum:02x}").as_bytes());
    whole
}

impl Connection for Wire {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> Result<(), Self::Error> {
        match &mut self.packet {
            None if byte == b'$' => {
                self.packet = Some((vec![b'$'], 0));
                Ok(())
            }
            None => Write::write_all(&mut self.stream, &[byte]),
            Some((packet, digits)) => {
                packet.push(byte);
                if *digits > 0 {
                    *digits -= 1;
                    if *digits == 0 {
                        let whole = rewrite(packet);
                        self.packet = None;
                        return Write::write_all(&mut self.stream, &whole);
                    }
                } else if byte == b'#' {
                    // gdbstub escapes `#` inside a packet's data: this one ends it.
                    *digits = 2;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Write::flush(&mut self.stream)
    }

    fn on_session_start(&mut self) -> Result<(), Self::Error> {
        self.stream.set_nodelay(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(body: &str) -> Vec<u8> {
        let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
        format!("${body}#{sum:02x}").into_bytes()
    }

    #[test]
    fn test_features_and_exec_stop_are_rewritten_with_their_checksums() {
        assert_eq!(
            rewrite(&packet("PacketSize=1000;swbreak+")),
            packet("PacketSize=1000;swbreak+;exec-events+")
        );
        assert_eq!(rewrite(&packet("OK")), packet("OK"));
        assert_eq!(rewrite(&packet("T05thread:p01.2a;")), packet("T05thread:p01.2a;"));
        report_exec(b"/bin/x");
        assert_eq!(
            rewrite(&packet("T05thread:p01.2a;")),
            packet("T05exec:2f62696e2f78;thread:p01.2a;")
        );
        assert_eq!(rewrite(&packet("T05thread:p01.2a;")), packet("T05thread:p01.2a;"), "once");
    }
}

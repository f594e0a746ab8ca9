//! `elfvisor [--strace] [--strace-filter NAMES] [--strace-file PATH] [--engine tcg] [--argv0 NAME] [--sysroot DIR] [--gdb PORT [--gdb-wait] [--gdb-follow parent|child]] PROGRAM [ARGS...]`

#[cfg(feature = "asan")]
mod asan;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use elfvisor::{
    ForkStrategy, RunError, RunOptions, Termination, run_program, start_failure_status,
};
use elfvisor_engine::Engine;

#[derive(Parser, Debug)]
#[command(name = "elfvisor", version, about = "Run a Linux aarch64 program on this host")]
struct Cli {
    /// Print every system call, with decoded arguments and result, on stderr, laid out as
    /// `strace -f` prints them.
    #[arg(long)]
    strace: bool,
    /// With --strace (implied): only these calls (`NAME,NAME…`).
    #[arg(long, value_name = "NAMES")]
    strace_filter: Option<String>,
    /// With --strace (implied): append the lines to PATH instead of stderr.
    #[arg(long, value_name = "PATH")]
    strace_file: Option<PathBuf>,
    /// The CPU engine.
    #[arg(long, default_value = "tcg", value_parser = ["tcg"])]
    engine: String,
    /// argv[0] for the program (default: PROGRAM as given).
    #[arg(long, value_name = "NAME")]
    argv0: Option<OsString>,
    /// How a guest fork is carried out: host (a host fork of the emulator), respawn-copy or
    /// respawn-snapshot (a fresh emulator process that receives the state).
    #[arg(long, default_value = "host", value_parser = ["host", "respawn-copy", "respawn-snapshot"])]
    fork_strategy: String,
    /// The guest's root for absolute paths (a dynamically linked program's interpreter and
    /// libraries): a path found there is used, anything else is the host's. Default:
    /// $ELFVISOR_SYSROOT.
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// Serve the GDB remote protocol on 127.0.0.1:PORT for the program's threads (0: a port
    /// the host picks; the port is printed on stderr).
    #[arg(long, value_name = "PORT")]
    gdb: Option<u16>,
    /// With --gdb: run no guest instruction before a debugger has connected.
    #[arg(long, requires = "gdb")]
    gdb_wait: bool,
    /// With --gdb: which side of a fork the debugger stays with (a fork made while a debugger
    /// is attached; `child` needs --fork-strategy host).
    #[arg(long, requires = "gdb", default_value = "parent", value_parser = ["parent", "child"])]
    gdb_follow: String,
    /// Print the system call support matrix and exit.
    #[arg(long, exclusive = true)]
    syscalls: bool,
    /// Internal: continue a respawned fork child on this socket.
    #[arg(long, hide = true, exclusive = true, value_name = "FD")]
    fork_child: Option<i32>,
    /// The static aarch64 ELF program to run, then its arguments. Everything after PROGRAM
    /// belongs to the program, untouched: `elfvisor prog --help` passes `--help` to `prog`, as
    /// `env`, `nice` and `strace` do.
    #[arg(
        value_name = "PROGRAM [ARGS]...",
        required_unless_present_any = ["syscalls", "fork_child"],
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 1..
    )]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.syscalls {
        print!("{}", elfvisor::support_matrix());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = elfvisor::sysroot::init(cli.sysroot) {
        eprintln!("elfvisor: {e}");
        return ExitCode::from(e.exit_status());
    }
    static ENGINE: elfvisor_engine::tcg::Tcg = elfvisor_engine::tcg::Tcg;
    let engine = &ENGINE;
    if let Some(fd) = cli.fork_child {
        return finish(elfvisor::run_fork_child(fd, engine));
    }
    if let Some(port) = cli.gdb {
        let follow_child = cli.gdb_follow == "child";
        if follow_child && cli.fork_strategy != "host" {
            // A respawned child is a new emulator process: the session (the protocol's state
            // and the connection) cannot move into it.
            eprintln!("elfvisor: --gdb-follow child needs --fork-strategy host");
            return ExitCode::from(2);
        }
        elfvisor::gdb::set_follow_child(follow_child);
        if let Err(e) = elfvisor::gdb::listen(port, cli.gdb_wait) {
            eprintln!("elfvisor: cannot serve gdb on port {port}: {e}");
            return ExitCode::from(126);
        }
    }
    let mut command = cli.command.into_iter();
    let program = PathBuf::from(command.next().expect("clap requires PROGRAM without --syscalls"));
    let argv0 = cli.argv0.unwrap_or_else(|| program.clone().into_os_string());
    let argv: Vec<Vec<u8>> =
        std::iter::once(argv0).chain(command).map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect();
    debug_assert_eq!(engine.name(), cli.engine);
    let strace = cli.strace || cli.strace_filter.is_some() || cli.strace_file.is_some();
    if let Some(list) = &cli.strace_filter {
        let unknown = elfvisor::strace::unknown_names(list);
        if !unknown.is_empty() {
            eprintln!("elfvisor: --strace-filter: no system call is named {}", unknown.join(", "));
            return ExitCode::from(2);
        }
    }
    // The guest's environment is taken above; these reach respawned children only.
    // SAFETY: no other thread runs yet.
    unsafe {
        if let Some(list) = &cli.strace_filter {
            std::env::set_var(elfvisor::strace::FILTER_ENV, list);
        }
        if let Some(path) = &cli.strace_file {
            std::env::set_var(elfvisor::strace::FILE_ENV, path);
        }
    }
    let fork_strategy = ForkStrategy::from_name(&cli.fork_strategy).expect("clap checked the name");
    let opts = RunOptions { program, argv, envp, strace, fork_strategy };
    finish(run_program(engine, &opts))
}

/// The emulator's own exit: the guest's status, its death by signal, or a start failure.
fn finish(result: Result<Termination, RunError>) -> ExitCode {
    match result {
        Ok(Termination::Exited(code)) => ExitCode::from(code as u8),
        Ok(Termination::Signaled(sig)) => elfvisor::die_by_signal(i32::from(sig.0)),
        Err(e) => {
            eprintln!("elfvisor: {}", e.report());
            ExitCode::from(start_failure_status(&e) as u8)
        }
    }
}

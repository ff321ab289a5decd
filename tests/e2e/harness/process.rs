//! Child processes that cannot outlive the test binary.
//!
//! Every long-running child (etcd, kube-apiserver, the operators) is forked by one dedicated
//! thread that lives as long as the test process, and asks the kernel for `SIGKILL` when its
//! parent goes (`prctl(PR_SET_PDEATHSIG)`). The parent of a child is the *thread* that forked it,
//! which is why the forking is not done on the test threads: libtest ends a test's thread when
//! the test ends, and the control plane is shared by all tests. When the test binary exits, by
//! success, failure, panic or signal, the kernel kills them all.
//!
//! The temporary root (data, certificates, kubeconfigs, logs) is removed by [`Janitor`], a
//! shell that waits for end-of-file on a pipe only the test process holds.

use std::io;
use std::os::raw::{c_int, c_ulong};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const PR_SET_PDEATHSIG: c_int = 1;
pub const SIGKILL: c_int = 9;
pub const SIGTERM: c_int = 15;

unsafe extern "C" {
    fn prctl(option: c_int, ...) -> c_int;
    #[link_name = "kill"]
    fn sys_kill(pid: c_int, signal: c_int) -> c_int;
}

type Job = (Command, mpsc::SyncSender<io::Result<Child>>);

/// Spawns `command` so that it dies with the test process (see the module documentation).
pub fn spawn(mut command: Command) -> io::Result<Child> {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if prctl(PR_SET_PDEATHSIG, SIGKILL as c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("e2e-spawner".into())
            .spawn(move || {
                for (mut command, reply) in inbox {
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static: this thread only ends with the process.
            })
            .expect("start the spawner thread");
        Mutex::new(jobs)
    });
    let (reply, answer) = mpsc::sync_channel(1);
    spawner
        .lock()
        .expect("spawner lock")
        .send((command, reply))
        .expect("spawner thread alive");
    answer.recv().expect("spawner answers")
}

/// Sends `signal` to `pid` (no error when the process is already gone).
pub fn signal(pid: u32, signal: c_int) {
    // SAFETY: plain syscall with integer arguments.
    unsafe {
        sys_kill(pid as c_int, signal);
    }
}

/// Waits up to `timeout` for `child` to exit; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps the child.
pub fn stop(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    signal(child.id(), SIGTERM);
    if wait_timeout(child, grace).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A child killed (and reaped) when dropped, e.g. when a test panics half-way through setup.
pub struct Guarded(pub Option<Child>);

impl Guarded {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child present")
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes a directory once the test process is gone: a shell blocked reading a pipe whose only
/// writer is this process. End-of-file comes when the process exits, however it exits.
pub struct Janitor {
    _pipe: ChildStdin,
}

impl Janitor {
    pub fn watch(dir: &Path) -> io::Result<Janitor> {
        // INT/TERM/HUP are ignored so that Ctrl-C on the test run (sent to the whole process
        // group) does not kill the janitor before it has cleaned up. The control plane children
        // die from PDEATHSIG at the same moment; a retry covers a file they still held.
        let script = r#"trap '' INT TERM HUP
while read -r _; do :; done
rm -rf "$1" 2>/dev/null || { sleep 1; rm -rf "$1"; }"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("e2e-janitor")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pipe = child.stdin.take().expect("piped stdin");
        // Not waited for: it outlives this process by design (init reaps it).
        std::mem::forget(child);
        Ok(Janitor { _pipe: pipe })
    }
}

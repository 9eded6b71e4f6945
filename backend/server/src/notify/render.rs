//! Templates render in a child process with an address-space and CPU limit, so no template can
//! take the server's memory or time, whatever it does.
//!
//! MiniJinja's fuel bounds the instructions a template runs, not the size of the values it
//! builds: `{% set s = s ~ s %}` forty times is forty instructions and a terabyte. No hook sees
//! intermediate values, so the bound is put where it holds for any template: the render runs
//! in `jitroles` itself started as a child ([`CHILD_ARG`]), with `RLIMIT_AS` and `RLIMIT_CPU`
//! set before it reads anything, no environment (so none of the server's secrets), its input
//! on stdin and its answer on stdout. A child that runs out of memory or time dies alone;
//! the render fails with a sentence, and the server's memory stays as it was.

use std::{
    io::{Read, Write},
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::{ExitCode, Stdio},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::Semaphore,
};

/// `jitroles <CHILD_ARG>` renders what it reads on stdin and exits (see [`child_main`]).
pub const CHILD_ARG: &str = "__render-templates";
/// The child's address space: the binary and its heap. A template that needs more fails.
pub const MEMORY_MB: u64 = 256;
/// CPU seconds a child may use, and the wall time the server waits for it.
const CPU_SECONDS: u64 = 5;
const WALL: Duration = Duration::from_secs(6);
/// Renders at once: the bound on memory the children can hold together.
const PARALLEL: usize = 4;
/// Longest rendered message.
pub const MAX_OUTPUT: usize = 100_000;
/// The most the child reads: templates and facts are small, this bounds a mistake.
const MAX_INPUT: u64 = 16 << 20;

/// One template to render with one context.
#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    /// Its name: the extension picks the escaping (`.html`, `.json`).
    pub name: String,
    pub source: String,
    pub context: serde_json::Value,
}

/// Why one template did not render: MiniJinja's detail, and where in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub what: String,
    pub line: Option<usize>,
    /// Byte offset in the source where the failing part starts.
    pub start: Option<usize>,
}

pub type Outcome = Result<String, Failure>;

/// Starts render children: at most [`PARALLEL`] at once.
pub struct Renderer {
    program: PathBuf,
    slots: Semaphore,
    /// `server.public_url`: messages link to the app (a request to decide, one's roles).
    link_base: Option<String>,
    /// In this process, without limits: unit tests of what templates say, nothing else.
    #[cfg(test)]
    in_process: bool,
}

impl Renderer {
    /// Renders by running `program` (a `jitroles` binary) with [`CHILD_ARG`].
    pub fn new(program: PathBuf) -> Self {
        Self {
            program,
            slots: Semaphore::new(PARALLEL),
            link_base: None,
            #[cfg(test)]
            in_process: false,
        }
    }

    /// Messages link to the web app at `public_url` (`server.public_url`).
    pub fn linking_to(mut self, public_url: Option<String>) -> Self {
        self.link_base = public_url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// Where a message about `grant_id` and `event` points people: the request on the
    /// Approvals page for the approval events, the Roles page otherwise; empty without a
    /// public URL.
    pub fn link(&self, event: jitroles_domain::notify::Event, grant_id: &str) -> String {
        let Some(base) = &self.link_base else {
            return String::new();
        };
        if jitroles_domain::notify::Event::APPROVAL.contains(&event) {
            format!("{base}/approvals/?request={grant_id}")
        } else {
            format!("{base}/roles")
        }
    }

    #[cfg(test)]
    pub fn in_process() -> Self {
        Self {
            in_process: true,
            ..Self::new(PathBuf::new())
        }
    }

    /// Renders every job in one child: an outcome per job, or why the child failed as a whole
    /// (it ran out of memory or time, or could not start).
    pub async fn render(&self, jobs: &[Job]) -> Result<Vec<Outcome>, String> {
        #[cfg(test)]
        if self.in_process {
            return Ok(jobs.iter().map(super::template::render_job).collect());
        }
        let program = &self.program;
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let input = serde_json::to_vec(jobs).map_err(|e| e.to_string())?;
        let mut child = tokio::process::Command::new(program)
            .arg(CHILD_ARG)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "the template renderer {} cannot be started: {e}",
                    program.display()
                )
            })?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the template renderer has no stdin or stdout".into());
        };
        // an answer: every job's output (escaped as JSON) and its framing
        let most = (jobs.len() * (MAX_OUTPUT * 6 + 1024)) as u64;
        let exchange = async {
            let write = async move {
                // a child that died early closes its stdin: its status says why
                let _ = stdin.write_all(&input).await;
            };
            let mut answer = Vec::new();
            let mut stdout = stdout.take(most);
            let read = stdout.read_to_end(&mut answer);
            let (_, read) = tokio::join!(write, read);
            read.map_err(|e| format!("the template renderer's answer cannot be read: {e}"))?;
            let status = child
                .wait()
                .await
                .map_err(|e| format!("the template renderer: {e}"))?;
            Ok::<_, String>((status, answer))
        };
        let (status, answer) = tokio::time::timeout(WALL, exchange).await.map_err(|_| {
            format!(
                "the template took longer than {} s to render",
                WALL.as_secs()
            )
        })??;
        if !status.success() {
            return Err(match status.signal() {
                // Rust aborts when an allocation fails
                Some(6) => format!("the template needs more than {MEMORY_MB} MB to render"),
                // RLIMIT_CPU
                Some(9 | 24) => {
                    format!("the template took longer than {CPU_SECONDS} s to render")
                }
                _ => format!("the template renderer stopped ({status})"),
            });
        }
        let outcomes: Vec<Outcome> = serde_json::from_slice(&answer).map_err(|_| {
            format!(
                "{} did not answer as a jitroles template renderer",
                program.display()
            )
        })?;
        if outcomes.len() != jobs.len() {
            return Err("the template renderer answered for other templates".into());
        }
        Ok(outcomes)
    }
}

/// The child: limits itself, reads the jobs on stdin, writes their outcomes on stdout.
pub fn child_main() -> ExitCode {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit = |resource, value| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
    };
    if limit(Resource::As, MEMORY_MB << 20).is_err() || limit(Resource::Cpu, CPU_SECONDS).is_err() {
        // never render without the limits
        return ExitCode::from(3);
    }
    let mut input = Vec::new();
    if std::io::stdin()
        .take(MAX_INPUT)
        .read_to_end(&mut input)
        .is_err()
    {
        return ExitCode::from(4);
    }
    let Ok(jobs) = serde_json::from_slice::<Vec<Job>>(&input) else {
        return ExitCode::from(4);
    };
    let outcomes: Vec<Outcome> = jobs.iter().map(super::template::render_job).collect();
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut stdout, &outcomes).map_err(std::io::Error::from);
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(5),
    }
}

/// A writer that refuses to grow past [`MAX_OUTPUT`], so a message too long stops at once.
#[derive(Default)]
pub struct Capped {
    pub out: Vec<u8>,
    pub overflowed: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > MAX_OUTPUT {
            self.overflowed = true;
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

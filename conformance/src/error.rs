use std::path::PathBuf;

/// Everything that can go wrong while preparing or running conformance cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Fixture { path: PathBuf, message: String },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{tool} is not installed ({hint})")]
    ToolMissing { tool: String, hint: String },

    #[error("compiling {source_path} with {compiler} failed:\n{output}")]
    Compile { source_path: PathBuf, compiler: String, output: String },

    #[error("the linux lane failed: {0}")]
    Boot(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a sentence of context to an I/O error.
pub(crate) trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io { context: what(), source })
    }
}

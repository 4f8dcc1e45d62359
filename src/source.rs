//! Where attachments come from: the [`AttachmentSource`] trait, the confined filesystem
//! root [`FsRoot`], and the in-memory [`MemorySource`].
//!
//! OWNER: security helper. Interface fixed; bodies to be written.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// An opened attachment: its size at open time and a reader over its bytes.
pub struct Opened {
    /// The size when opened. The filter fails if it reads a different number of bytes.
    pub len: u64,
    /// The content.
    pub reader: Box<dyn Read + Send>,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened").field("len", &self.len).finish_non_exhaustive()
    }
}

/// Why an attachment could not be opened.
#[derive(Debug)]
pub struct SourceError {
    /// The path as the placeholder gave it (after `{var}` expansion).
    pub path: String,
    /// What went wrong, one line.
    pub reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attachment {:?}: {}", self.path, self.reason)
    }
}

impl std::error::Error for SourceError {}

/// Serves attachment content by path.
pub trait AttachmentSource {
    /// Opens the attachment at `path`, a relative path with `/` separators.
    fn open(&self, path: &str) -> Result<Opened, SourceError>;
}

/// Files beneath one directory; nothing outside it can be opened.
#[derive(Debug)]
pub struct FsRoot {
    _private: (),
}

impl FsRoot {
    /// Opens `root` as the directory all attachment paths are resolved beneath.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<FsRoot> {
        let _ = root;
        todo!()
    }
}

impl AttachmentSource for FsRoot {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        let _ = path;
        todo!()
    }
}

/// Attachments held in memory, keyed by path: for tests and embedders.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    files: std::collections::HashMap<String, std::sync::Arc<[u8]>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn insert(&mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), content.into().into());
    }
}

impl AttachmentSource for MemorySource {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        match self.files.get(path) {
            Some(data) => Ok(Opened {
                len: data.len() as u64,
                reader: Box::new(std::io::Cursor::new(data.clone())),
            }),
            None => Err(SourceError { path: path.to_owned(), reason: "no such file".to_owned() }),
        }
    }
}

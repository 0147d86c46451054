//! A session's files (issue 15): what a client uploaded to it, and the PDFs it printed. One
//! folder per session (mode 0700) under the engine's files root, removed with the session.
//! Names are plain file names (no path, no leading dot); nothing outside the folder is ever
//! read or written, and every file and the folder as a whole are size-capped.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EngineError;

/// The caps of one session's folder.
#[derive(Debug, Clone, Copy)]
pub struct FileCaps {
    /// One file, in bytes (`max_file_bytes`).
    pub max_file_bytes: u64,
    /// All of a session's files together, in bytes (`max_session_files_bytes`).
    pub max_total_bytes: u64,
    /// Files one session may hold.
    pub max_files: usize,
}

/// Longest file name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// A file as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    pub mime_type: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where it came from: `upload` or `pdf`.
    pub source: String,
}

pub struct SessionFiles {
    dir: PathBuf,
    caps: FileCaps,
    entries: Mutex<Vec<FileEntry>>,
    /// Downloads finished or refused since the last action answered them.
    news: Mutex<Vec<DownloadNote>>,
}

/// A download the session made: the file it became, or why it was refused.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadNote {
    pub url: String,
    /// The name the page suggested.
    pub suggested_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Download notes kept for the next action at most.
const MAX_NEWS: usize = 50;
/// Where downloads land while they run, inside the session's folder.
const INCOMING: &str = ".incoming";

/// `name` when it is a plain file name: 1..128 characters of letters, digits, `.`, `_`, `-`,
/// `+`, `(`, `)` and spaces, not starting with a dot. Anything else (a path, `..`, a NUL) is
/// refused, not cleaned: the caller learns what is wrong.
pub fn checked_name(name: &str) -> Result<&str, EngineError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && !name.starts_with(' ')
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '(' | ')' | ' ')
        });
    if ok {
        Ok(name)
    } else {
        Err(EngineError::BadInput(format!(
            "file name `{}` is not accepted: 1 to {MAX_NAME_LEN} letters, digits, spaces and . _ - + ( ), \
             not starting with a dot (a name, never a path)",
            name.chars().take(MAX_NAME_LEN + 8).collect::<String>()
        )))
    }
}

/// A name a page suggested, made plain: characters outside the accepted set become `_`,
/// leading dots and spaces go, at most [`MAX_NAME_LEN`] characters; `download` when nothing
/// is left.
pub fn plain_name(suggested: &str) -> String {
    let base = suggested.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '(' | ')' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches(['.', ' ']).to_string();
    if s.len() > MAX_NAME_LEN {
        s = s
            .chars()
            .rev()
            .take(MAX_NAME_LEN)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        s = s.trim_start_matches(['.', ' ']).to_string();
    }
    if s.is_empty() {
        "download".into()
    } else {
        s
    }
}

/// The MIME type a name's extension says (what the file list answers).
pub fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn io(what: &str, e: std::io::Error) -> EngineError {
    EngineError::Internal(format!("{what}: {e}"))
}

impl SessionFiles {
    /// Makes the session's folder `root/<session>` (0700).
    pub fn create(root: &Path, session: &str, caps: FileCaps) -> Result<Self, EngineError> {
        let dir = root.join(session);
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create the session's folder", e))?;
        let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        Ok(Self {
            dir,
            caps,
            entries: Mutex::new(Vec::new()),
            news: Mutex::new(Vec::new()),
        })
    }

    /// The folder downloads land in (made on first use).
    pub fn incoming_dir(&self) -> Result<PathBuf, EngineError> {
        let d = self.dir.join(INCOMING);
        std::fs::create_dir_all(&d).map_err(|e| io("cannot create the downloads folder", e))?;
        Ok(d)
    }

    /// Whether `path` is a download landing in this session's folder.
    pub fn holds_incoming(&self, path: &Path) -> bool {
        path.parent() == Some(self.dir.join(INCOMING).as_path())
    }

    /// A finished download (`.incoming/<guid>`) becomes a session file named after the name
    /// the page suggested (made a plain name; `download`, `download-2`, ... when none fits).
    pub async fn adopt_download(
        &self,
        guid: &str,
        suggested: &str,
        url: &str,
    ) -> Result<FileEntry, EngineError> {
        let from = self.dir.join(INCOMING).join(checked_name(guid)?);
        let size = tokio::fs::metadata(&from)
            .await
            .map_err(|e| io("the download is gone", e))?
            .len();
        if size > self.caps.max_file_bytes {
            let _ = tokio::fs::remove_file(&from).await;
            return Err(EngineError::TooLarge(format!(
                "the download is {size} bytes, over the cap of {} bytes per file (max_file_bytes)",
                self.caps.max_file_bytes
            )));
        }
        let bytes = tokio::fs::read(&from)
            .await
            .map_err(|e| io("cannot read the download", e))?;
        let _ = tokio::fs::remove_file(&from).await;
        let name = plain_name(suggested);
        let name = if self.find(&name).is_some() {
            match name.rsplit_once('.') {
                Some((stem, ext)) => self.fresh_name(stem, ext),
                None => self.fresh_name(&name, "bin"),
            }
        } else {
            name
        };
        let entry = self.store(&name, bytes, "download").await?;
        let note = DownloadNote {
            url: url.to_string(),
            suggested_name: suggested.to_string(),
            file: Some(entry.clone()),
            refused: None,
        };
        self.publish(&entry, Some(note));
        Ok(entry)
    }

    /// Tells the next action that a download of `name` from `url` was refused, and why.
    pub fn note_refused(&self, name: &str, url: &str, why: String) {
        self.note(DownloadNote {
            url: url.to_string(),
            suggested_name: name.to_string(),
            file: None,
            refused: Some(why),
        });
    }

    fn note(&self, n: DownloadNote) {
        if let Ok(mut news) = self.news.lock() {
            if news.len() >= MAX_NEWS {
                news.remove(0);
            }
            news.push(n);
        }
    }

    /// Downloads finished or refused since the last call.
    pub fn take_news(&self) -> Vec<DownloadNote> {
        self.news
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// A cancelled download's partial file, if any, goes.
    pub async fn drop_incoming(&self, guid: &str) {
        if let Ok(g) = checked_name(guid) {
            let _ = tokio::fs::remove_file(self.dir.join(INCOMING).join(g)).await;
        }
    }

    pub fn list(&self) -> Vec<FileEntry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn caps(&self) -> FileCaps {
        self.caps
    }

    /// Where `name` is on disk, if the session holds it (what a file input is given).
    pub fn path_of(&self, name: &str) -> Result<PathBuf, EngineError> {
        let name = checked_name(name)?;
        if self.find(name).is_none() {
            return Err(EngineError::BadInput(format!(
                "this session has no file `{name}`: upload it first (POST /v1/sessions/{{id}}/files)"
            )));
        }
        Ok(self.dir.join(name))
    }

    fn find(&self, name: &str) -> Option<FileEntry> {
        self.entries
            .lock()
            .ok()?
            .iter()
            .find(|e| e.name == name)
            .cloned()
    }

    /// Stores `bytes` as `name` (replacing a file of that name), within the caps.
    pub async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<FileEntry, EngineError> {
        let entry = self.store(name, bytes, source).await?;
        self.publish(&entry, None);
        Ok(entry)
    }

    /// Lists `entry` and, in the same moment, tells the next action of it (`note`): an agent
    /// that sees a download in the list finds it in the next answer too.
    fn publish(&self, entry: &FileEntry, note: Option<DownloadNote>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|e| e.name != entry.name);
            entries.push(entry.clone());
            if let Some(n) = note {
                self.note(n);
            }
        }
    }

    /// Checks the caps and writes the file; [`SessionFiles::publish`] lists it.
    async fn store(
        &self,
        name: &str,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<FileEntry, EngineError> {
        let name = checked_name(name)?.to_string();
        let size = bytes.len() as u64;
        if size > self.caps.max_file_bytes {
            return Err(EngineError::TooLarge(format!(
                "`{name}` is {size} bytes, over the cap of {} bytes per file (max_file_bytes)",
                self.caps.max_file_bytes
            )));
        }
        {
            let entries = self
                .entries
                .lock()
                .map_err(|_| EngineError::Internal("files lock".into()))?;
            let others: u64 = entries
                .iter()
                .filter(|e| e.name != name)
                .map(|e| e.size)
                .sum();
            let count = entries.iter().filter(|e| e.name != name).count();
            if others.saturating_add(size) > self.caps.max_total_bytes {
                return Err(EngineError::TooLarge(format!(
                    "this session's files would be {} bytes, over the cap of {} bytes (max_session_files_bytes)",
                    others.saturating_add(size),
                    self.caps.max_total_bytes
                )));
            }
            if count >= self.caps.max_files {
                return Err(EngineError::TooLarge(format!(
                    "this session holds {count} files, the most it may (delete one first)"
                )));
            }
        }
        let path = self.dir.join(&name);
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            let digest = hex::encode(Sha256::digest(&bytes));
            (bytes, digest)
        })
        .await
        .map_err(|e| EngineError::Internal(format!("hashing failed: {e}")))?;
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| io("cannot write the file", e))?;
        Ok(FileEntry {
            mime_type: mime_of(&name).to_string(),
            name,
            size,
            sha256,
            source: source.to_string(),
        })
    }

    /// The file's entry and bytes.
    pub async fn read(&self, name: &str) -> Result<(FileEntry, Vec<u8>), EngineError> {
        let name = checked_name(name)?;
        let entry = self
            .find(name)
            .ok_or_else(|| EngineError::NotFound(format!("this session has no file `{name}`")))?;
        let bytes = tokio::fs::read(self.dir.join(name))
            .await
            .map_err(|e| io("cannot read the file", e))?;
        Ok((entry, bytes))
    }

    /// Deletes `name`.
    pub async fn delete(&self, name: &str) -> Result<FileEntry, EngineError> {
        let name = checked_name(name)?;
        let entry = self
            .find(name)
            .ok_or_else(|| EngineError::NotFound(format!("this session has no file `{name}`")))?;
        let _ = tokio::fs::remove_file(self.dir.join(name)).await;
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|e| e.name != name);
        }
        Ok(entry)
    }

    /// A name not used yet: `stem.ext`, else `stem-2.ext`, `stem-3.ext`, ...
    pub fn fresh_name(&self, stem: &str, ext: &str) -> String {
        let taken = |n: &str| self.find(n).is_some();
        let first = format!("{stem}.{ext}");
        if !taken(&first) {
            return first;
        }
        (2..)
            .map(|i| format!("{stem}-{i}.{ext}"))
            .find(|n| !taken(n))
            .unwrap_or(first)
    }
}

impl Drop for SessionFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        for ok in ["report.pdf", "a b (1).txt", "x-y_z+1.csv"] {
            assert!(checked_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "a/b",
            ".hidden",
            "a\0b",
            "é.txt",
            "..",
            "a\\b",
        ] {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
        assert!(checked_name(&"x".repeat(129)).is_err());
    }

    #[tokio::test]
    async fn caps_hold_and_the_folder_goes_with_the_session() {
        let root = std::env::temp_dir().join(format!("pp-files-{}", uuid::Uuid::new_v4()));
        let caps = FileCaps {
            max_file_bytes: 10,
            max_total_bytes: 14,
            max_files: 3,
        };
        let files = SessionFiles::create(&root, "s1", caps).expect("folder");
        let dir = root.join("s1");
        let e = files
            .put("a.txt", b"hello".to_vec(), "upload")
            .await
            .expect("stored");
        assert_eq!(e.sha256, hex::encode(Sha256::digest(b"hello")));
        assert_eq!(e.mime_type, "text/plain");
        assert!(matches!(
            files.put("b.bin", vec![0; 11], "upload").await,
            Err(EngineError::TooLarge(_))
        ));
        assert!(
            files.put("b.bin", vec![0; 10], "upload").await.is_err(),
            "15 bytes in all"
        );
        files
            .put("a.txt", vec![1; 10], "upload")
            .await
            .expect("a replacement counts once");
        assert_eq!(files.list().len(), 1);
        assert!(files.path_of("nope.txt").is_err());
        assert!(files.path_of("a.txt").is_ok_and(|p| p.starts_with(&dir)));
        assert_eq!(files.fresh_name("a", "txt"), "a-2.txt");
        drop(files);
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(root);
    }
}

//! Actions on a session's files: `upload` sets files the client uploaded to the session on a
//! file input (directly, or through the file chooser a styled button opens), `pdf` prints the
//! page and keeps the PDF as a session file.

use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::output::{Bytes, Downloaded, Uploaded};
use super::pointer::{click_el, Locator, MouseButton};
use super::{js, ActionOutput, Outcome};
use crate::engine::files::{checked_name, SessionFiles};
use crate::engine::page::Page;
use crate::engine::protocol::{PrintToPdf, SetFileInputFiles, SetInterceptFileChooserDialog};
use crate::engine::EngineError;

/// Files one upload may set at most.
pub const MAX_UPLOAD_FILES: usize = 20;
/// How long a click on a styled button may take to open its file chooser.
const CHOOSER_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    /// The file input, its label, or a button that opens a file chooser (CSS).
    #[serde(default)]
    pub selector: Option<String>,
    /// An agent id (from observe) instead of a selector.
    #[serde(default)]
    pub id: Option<String>,
    /// Names of files uploaded to the session (never paths).
    pub files: Vec<String>,
    pub timeout_ms: Option<u64>,
}

impl Upload {
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.files.is_empty() || self.files.len() > MAX_UPLOAD_FILES {
            return Err(EngineError::BadInput(format!(
                "payload.files must name 1 to {MAX_UPLOAD_FILES} files uploaded to the session"
            )));
        }
        for f in &self.files {
            checked_name(f)?;
        }
        match (&self.selector, &self.id) {
            (Some(s), _) if !s.trim().is_empty() => Ok(()),
            (_, Some(id)) if !id.trim().is_empty() => Ok(()),
            _ => Err(EngineError::BadInput(
                "payload.selector (or an agent id) must name the file input or its button".into(),
            )),
        }
    }

    fn locator(&self) -> Locator<'_> {
        match (&self.selector, &self.id) {
            (Some(s), _) if !s.trim().is_empty() => Locator::Css(s),
            (_, Some(id)) => Locator::Id(id),
            _ => Locator::Css(""),
        }
    }
}

pub async fn upload(
    page: &Page,
    files: &SessionFiles,
    u: &Upload,
) -> Result<ActionOutput, EngineError> {
    let paths: Vec<String> = u
        .files
        .iter()
        .map(|n| files.path_of(n).map(|p| p.to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    let loc = u.locator();
    let state = page.eval(js::FILE_INPUT, &loc.arg(json!({}))).await?;
    if let Some(why) = state.get("invalid").and_then(Value::as_str) {
        return Err(EngineError::BadInput(format!(
            "payload.selector {} is not a valid CSS selector: {why}",
            loc.describe()
        )));
    }
    if state["stale"] == true {
        return Err(EngineError::Stale(format!(
            "stale action id, observe again: {} no longer matches an element of this page",
            loc.describe()
        )));
    }
    let how = if state["file"] == true {
        if state["disabled"] == true {
            return Err(EngineError::BadInput(format!(
                "the file input {} is disabled",
                loc.describe()
            )));
        }
        if paths.len() > 1 && state["multiple"] != true {
            return Err(EngineError::BadInput(format!(
                "the file input {} takes one file, {} were named",
                loc.describe(),
                paths.len()
            )));
        }
        let object = page
            .eval_ref(js::FILE_INPUT, &loc.arg(json!({ "ref": true })))
            .await?
            .ok_or_else(|| EngineError::Stale("the file input went away".into()))?;
        page.exec(&SetFileInputFiles {
            files: paths.clone(),
            object_id: Some(object),
            backend_node_id: None,
        })
        .await?;
        "input"
    } else {
        // A styled "Choose file" button: click it as a person would and answer the file
        // chooser it opens (intercepted: it is never shown).
        page.exec(&SetInterceptFileChooserDialog { enabled: true })
            .await?;
        let mut events = page.events()?;
        click_el(page, loc, u.timeout_ms, MouseButton::Left, 1).await?;
        let opened = tokio::time::timeout(CHOOSER_WAIT, async {
            loop {
                match events.recv().await {
                    Ok(ev) if ev.method == "Page.fileChooserOpened" => {
                        return ev.params["backendNodeId"]
                            .as_i64()
                            .map(|n| (n, ev.params["mode"] == "selectMultiple"))
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten();
        let Some((node, multiple)) = opened else {
            return Err(EngineError::BadInput(format!(
                "{} is not a file input, and clicking it opened no file chooser within {} s",
                loc.describe(),
                CHOOSER_WAIT.as_secs()
            )));
        };
        if paths.len() > 1 && !multiple {
            return Err(EngineError::BadInput(format!(
                "the file chooser {} opened takes one file, {} were named",
                loc.describe(),
                paths.len()
            )));
        }
        page.exec(&SetFileInputFiles {
            files: paths.clone(),
            object_id: None,
            backend_node_id: Some(node),
        })
        .await?;
        "chooser"
    };
    Ok(Outcome::Uploaded(Uploaded {
        uploaded: u.files.clone(),
        via: how,
    })
    .into())
}

/// Paper sizes `pdf` knows, in inches (width, height, portrait).
const PAPER: [(&str, f64, f64); 6] = [
    ("letter", 8.5, 11.0),
    ("legal", 8.5, 14.0),
    ("tabloid", 11.0, 17.0),
    ("a3", 11.69, 16.54),
    ("a4", 8.27, 11.69),
    ("a5", 5.83, 8.27),
];
/// Longest `pageRanges` accepted (`1-5, 8, 11-13`).
const MAX_RANGES_LEN: usize = 200;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pdf {
    /// letter (default), legal, tabloid, a3, a4, a5.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub landscape: bool,
    #[serde(default)]
    pub print_background: bool,
    /// Pages to print, e.g. `1-5, 8`; all when unset.
    #[serde(default)]
    pub page_ranges: Option<String>,
    /// The session file's name (default `page.pdf`, `page-2.pdf`, ...).
    #[serde(default)]
    pub name: Option<String>,
}

impl Pdf {
    pub fn validate(&self) -> Result<(), EngineError> {
        self.paper()?;
        if let Some(r) = &self.page_ranges {
            let ok = r.len() <= MAX_RANGES_LEN
                && !r.trim().is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | ',' | ' '));
            if !ok {
                return Err(EngineError::BadInput(format!(
                    "payload.pageRanges must be page numbers and ranges like `1-5, 8` (at most {MAX_RANGES_LEN} characters)"
                )));
            }
        }
        if let Some(n) = &self.name {
            checked_name(n)?;
        }
        Ok(())
    }

    fn paper(&self) -> Result<(f64, f64), EngineError> {
        let f = self
            .format
            .as_deref()
            .unwrap_or("letter")
            .to_ascii_lowercase();
        PAPER
            .iter()
            .find(|(n, _, _)| *n == f)
            .map(|(_, w, h)| (*w, *h))
            .ok_or_else(|| {
                EngineError::BadInput(format!(
                    "payload.format must be one of {}, got `{f}`",
                    PAPER.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ))
            })
    }
}

pub async fn pdf(page: &Page, files: &SessionFiles, p: &Pdf) -> Result<ActionOutput, EngineError> {
    let (w, h) = p.paper()?;
    let printed = page
        .exec(&PrintToPdf {
            landscape: p.landscape,
            print_background: p.print_background,
            paper_width: w,
            paper_height: h,
            page_ranges: p.page_ranges.clone(),
        })
        .await
        .map_err(|e| match e {
            // Chromium refuses a range past the last page with a protocol error.
            EngineError::Internal(m) if m.contains("range") || m.contains("Page range") => {
                EngineError::BadInput(format!("payload.pageRanges: {m}"))
            }
            other => other,
        })?;
    let cap = files.caps().max_file_bytes;
    // Base64 is 4/3 of the bytes: refuse before decoding what could not be kept anyway.
    if (printed.data.len() as u64) / 4 * 3 > cap {
        return Err(EngineError::TooLarge(format!(
            "the PDF is about {} bytes, over the cap of {cap} bytes per file (max_file_bytes)",
            printed.data.len() / 4 * 3
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(printed.data.as_bytes())
        .map_err(|e| EngineError::Internal(format!("the browser's PDF is not base64: {e}")))?;
    let name = match &p.name {
        Some(n) => n.clone(),
        None => files.fresh_name("page", "pdf"),
    };
    let entry = files.put(&name, bytes, "pdf").await?;
    Ok(Outcome::Bytes(Bytes {
        content_type: "application/pdf".into(),
        body_base64: Some(printed.data),
        file: Some(entry),
    })
    .into())
}

/// Longest wait of `download` for the download its click starts.
pub const MAX_DOWNLOAD_WAIT_MS: u64 = 60_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    /// The link or button that starts the download (CSS).
    #[serde(default)]
    pub selector: Option<String>,
    /// An agent id (from observe) instead of a selector.
    #[serde(default)]
    pub id: Option<String>,
    /// How long to wait for the download to finish (default 30000 ms).
    pub timeout_ms: Option<u64>,
}

impl Download {
    pub fn validate(&self) -> Result<(), EngineError> {
        if let Some(ms) = self.timeout_ms {
            if ms > MAX_DOWNLOAD_WAIT_MS {
                return Err(EngineError::BadInput(format!(
                    "payload.timeoutMs must be between 0 and {MAX_DOWNLOAD_WAIT_MS}, got {ms}"
                )));
            }
        }
        match (&self.selector, &self.id) {
            (Some(s), _) if !s.trim().is_empty() => Ok(()),
            (_, Some(id)) if !id.trim().is_empty() => Ok(()),
            _ => Err(EngineError::BadInput(
                "payload.selector (or an agent id) must name what starts the download".into(),
            )),
        }
    }
}

/// Clicks what `d` names and waits for the download it starts: its file entry, or why it was
/// refused (over the cap). The session goes on either way.
pub async fn download(
    page: &Page,
    files: &SessionFiles,
    d: &Download,
) -> Result<ActionOutput, EngineError> {
    let loc = match (&d.selector, &d.id) {
        (Some(s), _) if !s.trim().is_empty() => Locator::Css(s),
        (_, Some(id)) => Locator::Id(id),
        _ => Locator::Css(""),
    };
    // Notes of earlier downloads are not this one's.
    let earlier = files.take_news();
    click_el(page, loc, None, MouseButton::Left, 1).await?;
    let wait = Duration::from_millis(d.timeout_ms.unwrap_or(30_000));
    let started = std::time::Instant::now();
    loop {
        let mut news = files.take_news().into_iter();
        if let Some(first) = news.next() {
            // This one is the answer; the others (earlier ones, or several at once) are news.
            let mut out = ActionOutput::from(Outcome::Downloaded(Downloaded { download: first }));
            out.news.downloads = earlier.into_iter().chain(news).collect();
            return Ok(out);
        }
        if started.elapsed() >= wait {
            return Err(EngineError::Timeout(format!(
                "clicking {} started no download that finished within {} ms",
                loc.describe(),
                wait.as_millis()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

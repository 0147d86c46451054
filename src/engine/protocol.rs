//! The CDP commands the engine sends, typed: each struct is one command's params and names its
//! method and its answer, so a misspelt method, param or answer field fails to compile (or
//! fails with a clear error) instead of being ignored by the browser. Events stay untyped
//! (`cdp::Event`): most are read for one or two fields.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub trait Command: Serialize {
    const METHOD: &'static str;
    type Returns: DeserializeOwned;
}

macro_rules! command {
    ($ty:ident => $method:literal, $ret:ty) => {
        impl Command for $ty {
            const METHOD: &'static str = $method;
            type Returns = $ret;
        }
    };
}

// ---- Browser and Target (browser-level) ----

#[derive(Serialize)]
pub struct GetVersion {}
#[derive(Deserialize)]
pub struct Version {
    pub product: String,
}
command!(GetVersion => "Browser.getVersion", Version);

#[derive(Serialize)]
pub struct SetDiscoverTargets {
    pub discover: bool,
}
command!(SetDiscoverTargets => "Target.setDiscoverTargets", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBrowserContext {
    pub dispose_on_detach: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_bypass_list: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserContextCreated {
    pub browser_context_id: String,
}
command!(CreateBrowserContext => "Target.createBrowserContext", BrowserContextCreated);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisposeBrowserContext {
    pub browser_context_id: String,
}
command!(DisposeBrowserContext => "Target.disposeBrowserContext", IgnoredAny);

#[derive(Serialize)]
pub struct GetBrowserContexts {}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserContexts {
    pub browser_context_ids: Vec<String>,
}
command!(GetBrowserContexts => "Target.getBrowserContexts", BrowserContexts);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTarget {
    pub url: String,
    pub browser_context_id: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetCreated {
    pub target_id: String,
}
command!(CreateTarget => "Target.createTarget", TargetCreated);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachToTarget {
    pub target_id: String,
    pub flatten: bool,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attached {
    pub session_id: String,
}
command!(AttachToTarget => "Target.attachToTarget", Attached);

/// Attaches children (cross-site iframes, workers) paused, so they can be set up first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAutoAttach {
    pub auto_attach: bool,
    pub wait_for_debugger_on_start: bool,
    pub flatten: bool,
}
command!(SetAutoAttach => "Target.setAutoAttach", IgnoredAny);

// ---- Page ----

#[derive(Serialize)]
pub struct PageEnable {}
command!(PageEnable => "Page.enable", IgnoredAny);

#[derive(Serialize)]
pub struct SetLifecycleEventsEnabled {
    pub enabled: bool,
}
command!(SetLifecycleEventsEnabled => "Page.setLifecycleEventsEnabled", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddScriptToEvaluateOnNewDocument {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub world_name: Option<String>,
}
command!(AddScriptToEvaluateOnNewDocument => "Page.addScriptToEvaluateOnNewDocument", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIsolatedWorld {
    pub frame_id: String,
    pub world_name: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsolatedWorld {
    pub execution_context_id: i64,
}
command!(CreateIsolatedWorld => "Page.createIsolatedWorld", IsolatedWorld);

#[derive(Serialize)]
pub struct Navigate {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Navigated {
    /// Absent for a same-document navigation.
    pub loader_id: Option<String>,
    pub error_text: Option<String>,
}
command!(Navigate => "Page.navigate", Navigated);

#[derive(Serialize)]
pub struct GetNavigationHistory {}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NavigationHistory {
    pub current_index: i64,
    pub entries: Vec<HistoryEntry>,
}
#[derive(Deserialize)]
pub struct HistoryEntry {
    pub id: i64,
}
command!(GetNavigationHistory => "Page.getNavigationHistory", NavigationHistory);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NavigateToHistoryEntry {
    pub entry_id: i64,
}
command!(NavigateToHistoryEntry => "Page.navigateToHistoryEntry", IgnoredAny);

#[derive(Serialize)]
pub struct Reload {}
command!(Reload => "Page.reload", IgnoredAny);

#[derive(Serialize, Clone, Copy)]
pub struct Clip {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub scale: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureScreenshot {
    pub format: &'static str,
    pub capture_beyond_viewport: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<Clip>,
}
#[derive(Deserialize)]
pub struct Screenshot {
    /// Base64 image.
    pub data: String,
}
command!(CaptureScreenshot => "Page.captureScreenshot", Screenshot);

#[derive(Serialize)]
pub struct GetLayoutMetrics {}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutMetrics {
    pub css_content_size: Size,
    pub css_layout_viewport: LayoutViewport,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutViewport {
    pub client_width: f64,
    pub client_height: f64,
}
#[derive(Deserialize)]
pub struct Size {
    pub width: f64,
    pub height: f64,
}
command!(GetLayoutMetrics => "Page.getLayoutMetrics", LayoutMetrics);

/// Kills the page's renderer process (a tab whose main thread cannot be freed).
#[derive(Serialize)]
pub struct CrashPage {}
command!(CrashPage => "Page.crash", IgnoredAny);

#[derive(Serialize)]
pub struct HandleJavaScriptDialog {
    pub accept: bool,
}
command!(HandleJavaScriptDialog => "Page.handleJavaScriptDialog", IgnoredAny);

// ---- Runtime ----

#[derive(Serialize)]
pub struct RuntimeEnable {}
command!(RuntimeEnable => "Runtime.enable", IgnoredAny);

/// Stops the script running on the page's main thread (a `while(true){}`), from outside it.
#[derive(Serialize)]
pub struct TerminateExecution {}
command!(TerminateExecution => "Runtime.terminateExecution", IgnoredAny);

#[derive(Serialize)]
pub struct RunIfWaitingForDebugger {}
command!(RunIfWaitingForDebugger => "Runtime.runIfWaitingForDebugger", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluate {
    pub expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<i64>,
    pub return_by_value: bool,
    pub await_promise: bool,
    /// Milliseconds; the browser stops the script after it.
    pub timeout: u64,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluated {
    #[serde(default)]
    pub result: RemoteValue,
    pub exception_details: Option<ExceptionDetails>,
}
#[derive(Deserialize, Default)]
pub struct RemoteValue {
    #[serde(default)]
    pub value: Value,
}
#[derive(Deserialize)]
pub struct ExceptionDetails {
    #[serde(default)]
    pub text: String,
    pub exception: Option<ExceptionObject>,
}
#[derive(Deserialize)]
pub struct ExceptionObject {
    pub description: Option<String>,
}
command!(Evaluate => "Runtime.evaluate", Evaluated);

// ---- Emulation ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetDeviceMetricsOverride {
    pub width: u32,
    pub height: u32,
    pub device_scale_factor: f64,
    pub mobile: bool,
}
command!(SetDeviceMetricsOverride => "Emulation.setDeviceMetricsOverride", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetUserAgentOverride {
    pub user_agent: String,
    pub accept_language: String,
    pub platform: String,
}
command!(SetUserAgentOverride => "Emulation.setUserAgentOverride", IgnoredAny);

// ---- Input ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchMouseEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub x: f64,
    pub y: f64,
    pub button: &'static str,
    pub buttons: u32,
    pub click_count: u32,
}
command!(DispatchMouseEvent => "Input.dispatchMouseEvent", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchKeyEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub key: String,
    pub code: String,
    pub windows_virtual_key_code: u32,
    pub native_virtual_key_code: u32,
    pub modifiers: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmodified_text: Option<String>,
}
command!(DispatchKeyEvent => "Input.dispatchKeyEvent", IgnoredAny);

#[derive(Serialize)]
pub struct InsertText {
    pub text: String,
}
command!(InsertText => "Input.insertText", IgnoredAny);

// ---- Fetch (the navigation policy's interception) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPattern {
    pub url_pattern: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<&'static str>,
    pub request_stage: &'static str,
}

#[derive(Serialize)]
pub struct FetchEnable {
    pub patterns: Vec<RequestPattern>,
}
impl FetchEnable {
    /// Every request, paused before it is sent; documents also when their answer arrives
    /// (the egress proxy's failure answers become the browser's own network errors there).
    pub fn all_requests() -> Self {
        Self {
            patterns: vec![
                RequestPattern {
                    url_pattern: "*",
                    resource_type: None,
                    request_stage: "Request",
                },
                RequestPattern {
                    url_pattern: "*",
                    resource_type: Some("Document"),
                    request_stage: "Response",
                },
            ],
        }
    }
}
command!(FetchEnable => "Fetch.enable", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinueRequest {
    pub request_id: String,
    /// Overrides, all optional: a request goes on unchanged without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Base64 of the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<String>,
    /// Replaces every header of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HeaderEntry>>,
}

impl ContinueRequest {
    pub fn unchanged(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_string(),
            url: None,
            method: None,
            post_data: None,
            headers: None,
        }
    }
}

#[derive(Serialize)]
pub struct HeaderEntry {
    pub name: String,
    pub value: String,
}
command!(ContinueRequest => "Fetch.continueRequest", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailRequest {
    pub request_id: String,
    pub error_reason: &'static str,
}
command!(FailRequest => "Fetch.failRequest", IgnoredAny);

#[derive(Serialize)]
pub struct SetScriptExecutionDisabled {
    pub value: bool,
}
command!(SetScriptExecutionDisabled => "Emulation.setScriptExecutionDisabled", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinueResponse {
    pub request_id: String,
}
command!(ContinueResponse => "Fetch.continueResponse", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseTarget {
    pub target_id: String,
}
command!(CloseTarget => "Target.closeTarget", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTargetInfo {
    pub target_id: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetInfoAnswer {
    pub target_info: TargetInfo,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetInfo {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub browser_context_id: Option<String>,
}
command!(GetTargetInfo => "Target.getTargetInfo", TargetInfoAnswer);

// ---- Network (the WebSocket browser client's exchange reports) ----

#[derive(Serialize)]
pub struct NetworkEnable {}
command!(NetworkEnable => "Network.enable", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetResponseBody {
    pub request_id: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseBody {
    pub body: String,
    pub base64_encoded: bool,
}
command!(GetResponseBody => "Network.getResponseBody", ResponseBody);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieParam {
    pub name: String,
    pub value: String,
    /// Defaults domain, path and secure from this URL.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_site: Option<&'static str>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
}

#[derive(Serialize)]
pub struct SetCookies {
    pub cookies: Vec<CookieParam>,
}
command!(SetCookies => "Network.setCookies", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCookies {
    pub browser_context_id: String,
}
#[derive(Deserialize)]
pub struct CookieList {
    pub cookies: Vec<BrowserCookie>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserCookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    /// Seconds since the epoch; -1 for a session cookie.
    pub expires: f64,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
}
command!(GetCookies => "Storage.getCookies", CookieList);

/// One cookie of a saved profile, set back into a browser context.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextCookie {
    pub name: String,
    pub value: String,
    /// A leading dot makes it a domain cookie; without one it is the host's only.
    pub domain: String,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// Seconds since the epoch; absent for a session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
}

/// `Storage.setCookies` into one browser context (no page or URL needed).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetContextCookies {
    pub cookies: Vec<ContextCookie>,
    pub browser_context_id: String,
}
command!(SetContextCookies => "Storage.setCookies", IgnoredAny);

/// Answers a paused request with a response of our own; nothing goes to the network.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillRequest {
    pub request_id: String,
    pub response_code: u16,
    pub response_headers: Vec<HeaderEntry>,
    /// Base64 of the body.
    pub body: String,
}
command!(FulfillRequest => "Fetch.fulfillRequest", IgnoredAny);

#[derive(Serialize)]
pub struct ResetNavigationHistory {}
command!(ResetNavigationHistory => "Page.resetNavigationHistory", IgnoredAny);

// ---- Files: uploads and PDF ----

/// `Runtime.evaluate` answering a reference to the value (an element for DOM commands).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateRef {
    pub expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<i64>,
    pub timeout: u64,
}
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    pub object_id: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluatedRef {
    #[serde(default)]
    pub result: RemoteRef,
    pub exception_details: Option<ExceptionDetails>,
}
command!(EvaluateRef => "Runtime.evaluate", EvaluatedRef);

/// Sets a file input's files (paths on this machine), firing its input and change events.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetFileInputFiles {
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_node_id: Option<i64>,
}
command!(SetFileInputFiles => "DOM.setFileInputFiles", IgnoredAny);

/// While enabled, a file chooser the page opens is not shown but reported
/// (`Page.fileChooserOpened`, with the input's backend node id).
#[derive(Serialize)]
pub struct SetInterceptFileChooserDialog {
    pub enabled: bool,
}
command!(SetInterceptFileChooserDialog => "Page.setInterceptFileChooserDialog", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrintToPdf {
    pub landscape: bool,
    pub print_background: bool,
    /// Inches.
    pub paper_width: f64,
    pub paper_height: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_ranges: Option<String>,
}
#[derive(Deserialize)]
pub struct Printed {
    /// The PDF, base64.
    pub data: String,
}
command!(PrintToPdf => "Page.printToPDF", Printed);

// ---- Downloads ----

/// Where a context's downloads go: `allowAndName` saves each as `<downloadPath>/<guid>` and,
/// with events, reports `Browser.downloadWillBegin` / `Browser.downloadProgress`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetDownloadBehavior {
    pub behavior: &'static str,
    pub browser_context_id: String,
    pub download_path: String,
    pub events_enabled: bool,
}
command!(SetDownloadBehavior => "Browser.setDownloadBehavior", IgnoredAny);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelDownload {
    pub guid: String,
    pub browser_context_id: String,
}
command!(CancelDownload => "Browser.cancelDownload", IgnoredAny);

//! observe (the collector, one evaluate, in our isolated world) and step (run an agent id).

use serde::Deserialize;
use serde_json::{json, Value};

use super::output::{Chosen, ElementDone, InvalidField, ListedAction, Observation};
use super::pointer::{click_el, settle, Locator, MouseButton};
use super::{form, keyboard, ActionOutput, Outcome};
use crate::engine::page::Page;
use crate::engine::EngineError;
use action_space::changes::{self, Changes, Seen};
use action_space::{Kind, Snapshot, View};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObserveOptions {
    /// Actions listed at most (viewport first); unset: 100 under a character budget.
    #[serde(default, alias = "max_nb_actions")]
    pub max_nb_actions: Option<usize>,
    #[serde(default, alias = "min_nb_actions")]
    pub min_nb_actions: Option<usize>,
    /// Character budget of the action listing and of the readable page. Unset: none when
    /// `max_nb_actions` is given (the caller's count is honoured), else 20,000.
    #[serde(default, alias = "max_chars")]
    pub max_chars: Option<usize>,
    /// Also answer the readable page (markdown of the main content) and its images.
    #[serde(default, alias = "page_content")]
    pub page_content: bool,
    /// Answer only what changed since the last observe of this document (and the page line).
    #[serde(default)]
    pub diff: bool,
    /// Also answer the collector's raw JSON (to see what the engine saw; fixtures use it).
    #[serde(default)]
    pub collector: bool,
}

/// Listed at most when the caller says nothing.
const DEFAULT_MAX_NB_ACTIONS: usize = 100;
/// The smallest and largest character budget a caller may ask for.
pub const MAX_CHARS_RANGE: (usize, usize) = (200, 10_000_000);

impl ObserveOptions {
    pub fn max_nb_actions(&self) -> usize {
        self.max_nb_actions.unwrap_or(DEFAULT_MAX_NB_ACTIONS)
    }

    pub fn min_nb_actions(&self) -> usize {
        self.min_nb_actions.unwrap_or(1)
    }

    /// The character budget in force: the caller's, none for an explicit count, else the default.
    pub fn max_chars(&self) -> Option<usize> {
        match (self.max_chars, self.max_nb_actions) {
            (Some(c), _) => Some(c),
            (None, Some(_)) => None,
            (None, None) => Some(action_space::space::DEFAULT_MAX_CHARS),
        }
    }

    pub fn validate(&self) -> Result<(), EngineError> {
        if self.max_nb_actions == Some(0) {
            return Err(EngineError::BadInput(
                "max_nb_actions must be at least 1".into(),
            ));
        }
        if self.min_nb_actions() > self.max_nb_actions() {
            return Err(EngineError::BadInput(format!(
                "min_nb_actions ({}) must not exceed max_nb_actions ({})",
                self.min_nb_actions(),
                self.max_nb_actions()
            )));
        }
        if let Some(c) = self.max_chars {
            let (lo, hi) = MAX_CHARS_RANGE;
            if !(lo..=hi).contains(&c) {
                return Err(EngineError::BadInput(format!(
                    "max_chars must be between {lo} and {hi}, got {c}"
                )));
            }
        }
        Ok(())
    }
}

/// Snapshots the page and builds the agent's view; remembers what each id does for `step`.
pub async fn observe(page: &Page, opts: &ObserveOptions) -> Result<View, EngineError> {
    Ok(observe_raw(page, opts).await?.0)
}

/// What one observe built: the view, what changed since the last one, the collector's JSON.
type Observed = (View, Changes, Option<Value>);

/// [`observe`], also answering the collector's JSON when asked for.
async fn observe_raw(page: &Page, opts: &ObserveOptions) -> Result<Observed, EngineError> {
    let started = std::time::Instant::now();
    let raw = page
        .eval_kept(
            "__ppCollect",
            action_space::COLLECTOR,
            &json!({ "pageContent": opts.page_content, "maxListed": opts.max_nb_actions(), "linkPaths": true }),
        )
        .await?;
    let text = match raw {
        Value::String(s) => s,
        _ => String::new(),
    };
    let evaluated = started.elapsed();
    let options = action_space::Options {
        max_nb_actions: opts.max_nb_actions(),
        min_nb_actions: opts.min_nb_actions(),
        max_chars: opts.max_chars(),
    };
    let want_raw = opts.collector;
    let read_page = opts.page_content;
    let prev = page.state.seen.lock().ok().and_then(|mut s| s.take());
    // Parsing the collector's JSON and building the view is the heavy part of an observe on a
    // large page: off the async runtime.
    let built = tokio::task::spawn_blocking(move || {
        let building = std::time::Instant::now();
        let snap = Snapshot::parse(&text).map_err(|e| {
            EngineError::Internal(format!("collector answered an unexpected shape: {e}"))
        })?;
        let parsed = building.elapsed();
        let kept = if want_raw {
            serde_json::from_str::<Value>(&text).ok()
        } else {
            None
        };
        let kinds: std::collections::HashMap<String, action_space::Kind> = snap
            .nodes
            .iter()
            .map(|n| (n.id.clone(), action_space::space::kind_of(n)))
            .collect();
        let signatures: std::collections::HashMap<String, (String, String)> = snap
            .nodes
            .iter()
            .map(|n| (n.id.clone(), (n.role.clone(), n.name.clone())))
            .collect();
        let view = action_space::view(&snap, &options);
        let readable = read_page.then_some(view.markdown.as_str());
        let seen = Seen::new(&view.doc, &view.space.described, &view.said, readable);
        let changes = changes::between(prev.as_ref(), &seen, readable);
        // Where an observe's time goes (debug): in the page, on the wire, in parsing, in
        // building the view and the changes.
        tracing::debug!(
            collector_ms = snap.took_ms,
            evaluate_ms = evaluated.as_secs_f64() * 1e3,
            parse_ms = parsed.as_secs_f64() * 1e3,
            build_ms = (building.elapsed() - parsed).as_secs_f64() * 1e3,
            bytes = text.len(),
            nodes = snap.nodes.len(),
            "observe"
        );
        Ok::<_, EngineError>((view, changes, seen, kept, kinds, signatures))
    })
    .await
    .map_err(|e| EngineError::Internal(format!("observe failed: {e}")))??;
    let (view, changes, seen, kept, kinds, signatures) = built;
    if let Ok(mut s) = page.state.seen.lock() {
        *s = Some(seen);
    }
    if let Ok(mut k) = page.state.kinds.lock() {
        *k = kinds;
    }
    if let Ok(mut sg) = page.state.signatures.lock() {
        *sg = signatures;
    }
    Ok((view, changes, kept))
}

/// The `snapshot` action: the view as JSON (camelCase), which each protocol reshapes.
/// `changes` says what changed since the last observe of this document; with `diff` the
/// answer lists only that (new and changed actions, the page's new lines), unless this is
/// another document, when the whole view is answered.
pub async fn snapshot(page: &Page, opts: &ObserveOptions) -> Result<ActionOutput, EngineError> {
    let (v, changes, raw) = observe_raw(page, opts).await?;
    let diff = opts.diff && !changes.navigated;
    let changed_ids: std::collections::HashSet<&str> = changes
        .new
        .iter()
        .map(|e| e.id.as_str())
        .chain(changes.changed.iter().map(|e| e.id.as_str()))
        .collect();
    // The view is moved into the answer, not copied (5,000 actions on a large page).
    let actions: Vec<ListedAction> = v
        .space
        .actions
        .into_iter()
        .filter(|a| !diff || changed_ids.contains(a.id.as_str()))
        .map(|a| ListedAction {
            id: a.id,
            kind: a.kind.name(),
            category: a.category,
            description: a.description,
            params: a.params,
            in_viewport: a.in_viewport,
            disabled: a.disabled,
            default_value: a.default_value,
        })
        .collect();
    let markdown = if diff {
        format!("# {}\n{}", v.description, changes.markdown())
    } else if changes.navigated {
        v.space.markdown
    } else {
        let mut md = v.space.markdown;
        md.push_str(&changes.markdown());
        md
    };
    let (page_markdown, images) = if opts.page_content {
        let page_md = if diff {
            changes.new_text.join("\n")
        } else {
            v.markdown
        };
        (Some(page_md), Some(v.images))
    } else {
        (None, None)
    };
    Ok(Outcome::Observation(Box::new(Observation {
        url: v.url,
        title: v.title,
        category: v.category,
        description: v.description,
        markdown,
        actions,
        omitted: v.space.omitted,
        omitted_below_fold: v.space.omitted_below_fold,
        viewport: v.viewport,
        changes,
        diff,
        collector: raw,
        page_markdown,
        images,
    }))
    .into())
}

/// Refuses a step on an id whose element changed role or accessible name since the observe
/// (a "Delete" button that became "Undo" is not what the agent picked). An editor's name is
/// its text, which typing changes: for those, and for ids observed without a name, only the
/// role counts.
async fn still_the_same(page: &Page, id: &str) -> Result<(), EngineError> {
    let Some((role, name)) = page
        .state
        .signatures
        .lock()
        .ok()
        .and_then(|s| s.get(id).cloned())
    else {
        return Ok(());
    };
    let now = page
        .eval_kept(
            "__ppCollect",
            action_space::COLLECTOR,
            &json!({ "verify": id }),
        )
        .await?;
    if now["stale"] == true {
        return Err(EngineError::Stale(format!(
            "stale action id, observe again: {id} no longer matches an element of this page"
        )));
    }
    let (now_role, now_name) = (
        now["role"].as_str().unwrap_or_default(),
        now["name"].as_str().unwrap_or_default(),
    );
    // Unnamed in the observe (or listed light, past the listing budget): only the role counts.
    let compare_name = now["editor"] != true && !name.is_empty();
    if now_role != role || (compare_name && now_name != name) {
        return Err(EngineError::Stale(format!(
            "stale action id, observe again: {id} was {} {role:?} and is now {} {now_role:?}",
            quoted(&name),
            quoted(now_name)
        )));
    }
    Ok(())
}

fn quoted(s: &str) -> String {
    if s.is_empty() {
        "an unnamed".to_string()
    } else {
        format!("\"{s}\"")
    }
}

/// How long a picked ARIA option may take to appear after its list was opened.
const OPTION_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Opens an ARIA combobox (unless open) and clicks the option labelled like one of `values`.
async fn pick_aria_option(
    page: &Page,
    loc: Locator<'_>,
    values: &[String],
) -> Result<ActionOutput, EngineError> {
    let el = super::pointer::locate(page, loc, None, false).await?;
    let combobox = el.raw["role"] == "combobox";
    if combobox && el.raw.pointer("/attributes/aria-expanded") != Some(&json!("true")) {
        super::pointer::click_el_strict(page, loc).await?;
    }
    let started = std::time::Instant::now();
    loop {
        let r = page
            .eval(
                super::js::ARIA_OPTION,
                &loc.arg(json!({ "values": values })),
            )
            .await?;
        if r["stale"] == true {
            return Err(EngineError::Stale(format!(
                "stale action id, observe again: {} no longer matches an element of this page",
                loc.describe()
            )));
        }
        if let (true, Some(option)) = (r["found"] == true, r["id"].as_str()) {
            let mut out = super::pointer::click_el_strict(page, Locator::Id(option)).await?;
            let label = r["label"].as_str().map(|l| Chosen::Label(l.to_string()));
            with_element(&mut out, |e| e.selected = label);
            return Ok(out);
        }
        if started.elapsed() >= OPTION_WAIT {
            let labels: Vec<&str> = r["labels"]
                .as_array()
                .map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            return Err(EngineError::NoMatch {
                message: format!(
                    "{} has no option labelled {}; its options: {}",
                    loc.describe(),
                    values.join(" or "),
                    if labels.is_empty() {
                        "none visible".to_string()
                    } else {
                        labels.join(", ")
                    }
                ),
                details: el.failure(),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A click on an agent id that fails when it was a submit the browser's constraint validation
/// stopped: the browser still shows its messages, and the answer names each invalid field.
async fn click_checked(page: &Page, loc: Locator<'_>) -> Result<ActionOutput, EngineError> {
    let check = page.eval(super::js::VALIDITY, &loc.arg(json!({}))).await?;
    let out = super::pointer::click_el_strict(page, loc).await?;
    let invalid = check["invalid"].as_array().cloned().unwrap_or_default();
    if invalid.is_empty() {
        return Ok(out);
    }
    let why: Vec<String> = invalid
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["name"].as_str().unwrap_or("a field"),
                f["message"].as_str().unwrap_or("invalid")
            )
        })
        .collect();
    let fields: Vec<InvalidField> =
        serde_json::from_value(Value::Array(invalid)).unwrap_or_default();
    let mut details = match out.result {
        Outcome::Element(e) => e,
        _ => Box::default(),
    };
    details.invalid_fields = Some(fields);
    Err(EngineError::NoMatch {
        message: format!(
            "the form was not submitted: the browser's validation stopped it ({})",
            why.join("; ")
        ),
        details,
    })
}

/// Runs an agent id: its kind decides the action (README, "How the action space is built"): text input -> fill (value,
/// optional Enter), select -> choose an option, checkbox/radio -> check/uncheck, else click.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    #[serde(alias = "action_id")]
    pub id: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default, alias = "press_enter")]
    pub enter: bool,
    /// Run this action instead of the one the id's kind implies (`click` on an input).
    #[serde(default, rename = "type")]
    pub kind: Option<StepKind>,
    /// Also answer what the step changed: an observe after it, whose `changes` (new, removed
    /// and changed actions, new alert and status text) come with the step's own answer. Off
    /// by default, so a step costs a step; the agent API and MCP step answer their whole
    /// observation (changes included) anyway.
    #[serde(default)]
    pub changes: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Click,
    Fill,
    Check,
    SelectDropdownOption,
}

impl From<StepKind> for Kind {
    fn from(k: StepKind) -> Kind {
        match k {
            StepKind::Click => Kind::Click,
            StepKind::Fill => Kind::Fill,
            StepKind::Check => Kind::Check,
            StepKind::SelectDropdownOption => Kind::SelectDropdownOption,
        }
    }
}

pub async fn step(page: &Page, s: &Step) -> Result<ActionOutput, EngineError> {
    let kind = page
        .state
        .kinds
        .lock()
        .ok()
        .and_then(|k| k.get(&s.id).copied());
    let Some(kind) = kind.map(|k| s.kind.map(Kind::from).unwrap_or(k)) else {
        return Err(EngineError::Stale(format!(
            "stale action id, observe again: {} is not in the last observation of this page",
            s.id
        )));
    };
    let loc = Locator::Id(&s.id);
    still_the_same(page, &s.id).await?;
    let mut out = match kind {
        Kind::Click => click_checked(page, loc).await?,
        // A bare step on a field clicks it, as a person does to focus it, put the caret there
        // or open its picker; only an explicit `fill` needs a value.
        Kind::Fill
            if s.kind.is_none() && matches!(s.value, None | Some(Value::Null)) && !s.enter =>
        {
            let mut out = click_el(page, loc, None, MouseButton::Left, 1).await?;
            with_element(&mut out, |e| e.focused = Some(true));
            out
        }
        Kind::Fill => {
            let value = match &s.value {
                Some(Value::String(v)) => v.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => {
                    return Err(EngineError::BadInput(format!(
                        "{} is a text input: give a `value` to fill",
                        s.id
                    )))
                }
            };
            let mut out = form::fill_el(page, loc, &value, None).await?;
            if s.enter {
                let events = page.events()?;
                keyboard::press_named(page, "Enter").await?;
                settle(page, events).await?;
                let url = super::navigate::page_url(page).await?;
                with_element(&mut out, |e| e.url = Some(url));
            }
            out
        }
        Kind::SelectDropdownOption => {
            let value = match &s.value {
                Some(Value::String(v)) => Some(vec![v.clone()]),
                Some(Value::Array(vs)) => Some(
                    vs.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            };
            let native =
                super::pointer::locate(page, loc, None, false).await?.raw["tagName"] == "select";
            match (native, value) {
                (true, Some(v)) => form::select_el(page, loc, &v, None).await?,
                (true, None) => {
                    return Err(EngineError::BadInput(format!(
                        "{} is a dropdown: give the option's label or value as `value`",
                        s.id
                    )))
                }
                // An ARIA combobox or listbox: a bare step opens it (its options are then
                // listed as `O` ids); with a value it opens and picks in one step.
                (false, None) => super::pointer::click_el_strict(page, loc).await?,
                (false, Some(v)) => pick_aria_option(page, loc, &v).await?,
            }
        }
        Kind::Check => {
            let wanted = match &s.value {
                Some(Value::Bool(b)) => Some(*b),
                Some(Value::String(v)) if v == "true" || v == "false" => Some(v == "true"),
                None | Some(Value::Null) => None,
                Some(other) => {
                    return Err(EngineError::BadInput(format!(
                        "{}: value must be true or false, got {other}",
                        s.id
                    )))
                }
            };
            // Without a value, a checkbox toggles and a radio is chosen (a radio cannot be
            // unchecked by a click: choosing the chosen one succeeds and says it was already).
            let el = super::pointer::locate(page, loc, None, false).await?;
            let now = el.raw["checked"].as_bool();
            let radio = el.raw["type"] == "radio" || el.raw["role"] == "radio";
            let want = wanted.unwrap_or(radio || !now.unwrap_or(false));
            let mut out = form::check_el(page, loc, want, None).await?;
            let state = if want { "checked" } else { "unchecked" };
            with_element(&mut out, |e| {
                if e.changed == Some(false) {
                    e.note = Some(format!("{} was already {state}", s.id));
                }
            });
            out
        }
    };
    with_element(&mut out, |e| {
        e.id = Some(s.id.clone());
        e.kind = Some(kind.name());
    });
    if s.changes {
        // The observation after the step becomes the baseline of the next one, as any
        // observe's does, and its ids are the ones a next step resolves.
        let opts = ObserveOptions {
            page_content: true,
            ..ObserveOptions::default()
        };
        let (_, changes, _) = observe_raw(page, &opts).await?;
        out.news.changes = Some(changes);
    }
    Ok(out)
}

/// Adds to an element action's result (every step answers one).
fn with_element(out: &mut ActionOutput, f: impl FnOnce(&mut ElementDone)) {
    if let Outcome::Element(e) = &mut out.result {
        f(e);
    }
}

//! The standard client's current document: the last response, parsed with `scraper` when it
//! is HTML. `fill` edits the parsed tree (so `content` shows the filled values); `click` turns
//! a link into a GET and a submit control into its form's submission, as a browser would
//! without running scripts.

use crate::engine::actions::output::ElementDone;
use scraper::{ElementRef, Html, Selector};

use crate::engine::EngineError;
use crate::exchange::HttpRequest;

pub struct Document {
    pub url: url::Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    html: Option<Html>,
    /// A fill changed the tree: `content` serialises it instead of sending the raw body.
    edited: bool,
}

/// What a click does without a browser.
pub enum Click {
    Navigate(Box<HttpRequest>),
    /// Nothing happens; why, for the answer.
    Nothing(String),
}

impl Document {
    pub fn new(url: url::Url, content_type: Option<String>, body: Vec<u8>) -> Self {
        let is_html = content_type
            .as_deref()
            .is_none_or(|t| t == "text/html" || t == "application/xhtml+xml");
        let html = is_html.then(|| Html::parse_document(&String::from_utf8_lossy(&body)));
        Self {
            url,
            content_type,
            body,
            html,
            edited: false,
        }
    }

    /// The document as it is now: the raw body, or the edited tree serialised.
    pub fn content(&self) -> Vec<u8> {
        match (&self.html, self.edited) {
            (Some(h), true) => h.html().into_bytes(),
            _ => self.body.clone(),
        }
    }

    fn html(&self) -> Result<&Html, EngineError> {
        self.html.as_ref().ok_or_else(|| {
            EngineError::BadInput(format!(
                "the current document is {} and not HTML: nothing to select in it",
                self.content_type.as_deref().unwrap_or("of unknown type")
            ))
        })
    }

    fn find(&self, selector: &str) -> Result<ElementRef<'_>, EngineError> {
        let sel = Selector::parse(selector).map_err(|e| {
            EngineError::BadInput(format!(
                "selector: `{selector}` is not a valid CSS selector ({e})"
            ))
        })?;
        self.html()?
            .select(&sel)
            .next()
            .ok_or_else(|| EngineError::NoMatch {
                message: format!("no element matches `{selector}`"),
                details: Box::default(),
            })
    }

    /// The URL relative links resolve against (`<base href>` or the document's own).
    fn base(&self) -> url::Url {
        let base = Selector::parse("base[href]").ok().and_then(|s| {
            self.html
                .as_ref()?
                .select(&s)
                .next()
                .and_then(|b| b.attr("href"))
                .and_then(|h| self.url.join(h).ok())
        });
        base.unwrap_or_else(|| self.url.clone())
    }

    pub fn click(&self, selector: &str) -> Result<Click, EngineError> {
        let el = self.find(selector)?;
        let link = std::iter::once(el)
            .chain(el.ancestors().filter_map(ElementRef::wrap))
            .find(|e| matches!(e.value().name(), "a" | "area") && e.attr("href").is_some());
        if let Some(a) = link {
            let href = a.attr("href").unwrap_or_default().trim();
            if href.to_ascii_lowercase().starts_with("javascript:") {
                return Ok(Click::Nothing(
                    "the link runs a script: that needs the browser client".into(),
                ));
            }
            let to = self
                .base()
                .join(href)
                .map_err(|e| EngineError::BadInput(format!("the link's href `{href}`: {e}")))?;
            return Ok(Click::Navigate(Box::new(HttpRequest::get(to))));
        }
        if is_submitter(&el) {
            let Some(form) = self.form_of(&el) else {
                return Ok(Click::Nothing("the button belongs to no form".into()));
            };
            return self
                .submission(form, Some(el))
                .map(|r| Click::Navigate(Box::new(r)));
        }
        Ok(Click::Nothing(format!(
            "clicking a <{}> does nothing without a browser (no script runs)",
            el.value().name()
        )))
    }

    fn form_of<'a>(&'a self, el: &ElementRef<'a>) -> Option<ElementRef<'a>> {
        if let Some(id) = el.attr("form") {
            let sel = Selector::parse("form[id]").ok()?;
            return self
                .html
                .as_ref()?
                .select(&sel)
                .find(|f| f.attr("id") == Some(id));
        }
        el.ancestors()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().name() == "form")
    }

    /// The request submitting `form` (by `submitter`), per the HTML form submission algorithm
    /// for urlencoded and text/plain forms.
    fn submission(
        &self,
        form: ElementRef<'_>,
        submitter: Option<ElementRef<'_>>,
    ) -> Result<HttpRequest, EngineError> {
        let pick = |attr: &str, form_attr: &str| {
            submitter
                .and_then(|s| s.attr(attr))
                .or_else(|| form.attr(form_attr))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let action = pick("formaction", "action");
        let method = pick("formmethod", "method")
            .unwrap_or("get")
            .to_ascii_lowercase();
        let enctype = pick("formenctype", "enctype")
            .unwrap_or("application/x-www-form-urlencoded")
            .to_ascii_lowercase();
        let mut url = match action {
            Some(a) => self
                .base()
                .join(a)
                .map_err(|e| EngineError::BadInput(format!("the form's action `{a}`: {e}")))?,
            None => self.url.clone(),
        };
        let pairs = self.form_data(form, submitter);
        if method != "post" {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            url.set_query(Some(&query));
            url.set_fragment(None);
            return Ok(HttpRequest::get(url));
        }
        let (body, ctype) = match enctype.as_str() {
            "text/plain" => (
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}\r\n"))
                    .collect::<String>(),
                "text/plain",
            ),
            "multipart/form-data" => {
                return Err(EngineError::Unsupported(
                    "multipart/form-data forms are not submitted by the standard client; use the browser client".into(),
                ))
            }
            _ => (
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish(),
                "application/x-www-form-urlencoded",
            ),
        };
        let mut req = HttpRequest::get(url);
        req.method = "POST".into();
        req.body = Some(body.into_bytes());
        req.set_header("Content-Type", ctype);
        req.referrer = Some(self.url.to_string());
        Ok(req)
    }

    /// The form's successful controls, in tree order, as name/value pairs.
    fn form_data(
        &self,
        form: ElementRef<'_>,
        submitter: Option<ElementRef<'_>>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(controls) = Selector::parse("input, select, textarea, button") else {
            return out;
        };
        let Some(html) = self.html.as_ref() else {
            return out;
        };
        for el in html.select(&controls) {
            if self.form_of(&el).map(|f| f.id()) != Some(form.id()) {
                continue;
            }
            let Some(name) = el.attr("name").filter(|n| !n.is_empty()) else {
                continue;
            };
            if el.attr("disabled").is_some() {
                continue;
            }
            let is_submitter = submitter.is_some_and(|s| s.id() == el.id());
            match el.value().name() {
                "select" => {
                    let Ok(opt) = Selector::parse("option") else {
                        continue;
                    };
                    let options: Vec<_> = el.select(&opt).collect();
                    let mut chosen: Vec<_> = options
                        .iter()
                        .filter(|o| o.attr("selected").is_some())
                        .collect();
                    if chosen.is_empty() && el.attr("multiple").is_none() {
                        chosen.extend(options.first());
                    }
                    for o in chosen {
                        out.push((name.to_string(), option_value(o)));
                    }
                }
                "textarea" => out.push((name.to_string(), el.text().collect())),
                "button" => {
                    if is_submitter {
                        out.push((name.to_string(), el.attr("value").unwrap_or("").into()));
                    }
                }
                _ => match input_type(&el).as_str() {
                    "checkbox" | "radio" => {
                        if el.attr("checked").is_some() {
                            out.push((name.to_string(), el.attr("value").unwrap_or("on").into()));
                        }
                    }
                    "submit" => {
                        if is_submitter {
                            out.push((name.to_string(), el.attr("value").unwrap_or("").into()));
                        }
                    }
                    "image" => {
                        if is_submitter {
                            out.push((format!("{name}.x"), "0".into()));
                            out.push((format!("{name}.y"), "0".into()));
                        }
                    }
                    "button" | "reset" | "file" => {}
                    _ => out.push((name.to_string(), el.attr("value").unwrap_or("").into())),
                },
            }
        }
        out
    }

    /// Sets a control's value in the tree: an input's `value` (or `checked` for a checkbox
    /// or radio), a textarea's text, a select's chosen option (by value or label).
    pub fn fill(&mut self, selector: &str, value: &str) -> Result<(), EngineError> {
        let el = self.find(selector)?;
        let id = el.id();
        let name = el.value().name().to_string();
        match name.as_str() {
            "input" => {
                let kind = input_type(&el);
                match kind.as_str() {
                    "checkbox" | "radio" => {
                        let on = !matches!(
                            value.trim().to_ascii_lowercase().as_str(),
                            "" | "false" | "0" | "off" | "no"
                        );
                        let group: Vec<_> = if kind == "radio" && on {
                            self.radio_group(&el)
                        } else {
                            Vec::new()
                        };
                        for other in group {
                            self.set_attr(other, "checked", None);
                        }
                        self.set_attr(id, "checked", on.then_some(""));
                    }
                    "submit" | "button" | "image" | "reset" | "file" => {
                        return Err(EngineError::BadInput(format!(
                            "`{selector}` is an input of type {kind}, which cannot be filled"
                        )))
                    }
                    _ => self.set_attr(id, "value", Some(value)),
                }
            }
            "textarea" => self.set_text(id, value),
            "select" => {
                let Ok(opt) = Selector::parse("option") else {
                    return Ok(());
                };
                let options: Vec<(ego_tree::NodeId, bool)> = el
                    .select(&opt)
                    .map(|o| {
                        let label: String = o.text().collect();
                        let hit = option_value(&o) == value || label.trim() == value.trim();
                        (o.id(), hit)
                    })
                    .collect();
                if !options.iter().any(|(_, hit)| *hit) {
                    let mut details = ElementDone::default();
                    details.element.matched = true;
                    return Err(EngineError::NoMatch {
                        message: format!("`{selector}` has no option with value or label `{value}`"),
                        details: Box::new(details),
                    });
                }
                let multiple = el.attr("multiple").is_some();
                for (oid, hit) in options {
                    if hit {
                        self.set_attr(oid, "selected", Some(""));
                    } else if !multiple {
                        self.set_attr(oid, "selected", None);
                    }
                }
            }
            other => {
                return Err(EngineError::BadInput(format!(
                    "`{selector}` is a <{other}>, which cannot be filled: use an input, textarea or select"
                )))
            }
        }
        self.edited = true;
        Ok(())
    }

    fn radio_group(&self, el: &ElementRef<'_>) -> Vec<ego_tree::NodeId> {
        let (Some(name), Ok(sel)) = (el.attr("name"), Selector::parse("input[type=radio]")) else {
            return Vec::new();
        };
        let form = self.form_of(el).map(|f| f.id());
        let Some(html) = self.html.as_ref() else {
            return Vec::new();
        };
        html.select(&sel)
            .filter(|r| r.attr("name") == Some(name) && self.form_of(r).map(|f| f.id()) == form)
            .map(|r| r.id())
            .collect()
    }

    /// Sets (`Some`) or removes (`None`) an attribute, keeping the list sorted as scraper's
    /// lookup expects.
    fn set_attr(&mut self, id: ego_tree::NodeId, attr: &str, value: Option<&str>) {
        let Some(html) = self.html.as_mut() else {
            return;
        };
        let Some(mut node) = html.tree.get_mut(id) else {
            return;
        };
        let scraper::Node::Element(el) = node.value() else {
            return;
        };
        el.attrs.retain(|(q, _)| &*q.local != attr);
        if let Some(v) = value {
            let mut q = el.name.clone();
            q.prefix = None;
            q.ns = Default::default();
            q.local = attr.into();
            el.attrs.push((q, v.into()));
            el.attrs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
    }

    fn set_text(&mut self, id: ego_tree::NodeId, text: &str) {
        let Some(html) = self.html.as_mut() else {
            return;
        };
        let Some(mut node) = html.tree.get_mut(id) else {
            return;
        };
        while let Some(mut child) = node.first_child() {
            child.detach();
        }
        node.append(scraper::Node::Text(scraper::node::Text {
            text: text.into(),
        }));
    }
}

fn is_submitter(el: &ElementRef<'_>) -> bool {
    match el.value().name() {
        "button" => !matches!(
            el.attr("type").map(|t| t.to_ascii_lowercase()).as_deref(),
            Some("button" | "reset")
        ),
        "input" => matches!(input_type(el).as_str(), "submit" | "image"),
        _ => false,
    }
}

fn input_type(el: &ElementRef<'_>) -> String {
    el.attr("type")
        .unwrap_or("text")
        .trim()
        .to_ascii_lowercase()
}

fn option_value(o: &ElementRef<'_>) -> String {
    match o.attr("value") {
        Some(v) => v.to_string(),
        None => o.text().collect::<String>().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = r#"<html><body>
      <a id="rel" href="next.html"><span id="inner">next</span></a>
      <form id="f" action="/submit" method="post">
        <input name="user" value="">
        <input type="checkbox" name="keep" value="yes">
        <input type="radio" name="size" value="s" checked><input type="radio" name="size" value="l">
        <select name="color"><option value="r">Red</option><option value="g">Green</option></select>
        <textarea name="note">old</textarea>
        <input name="off" value="x" disabled>
        <button id="go" name="op" value="save">Save</button>
      </form></body></html>"#;

    fn doc() -> Document {
        Document::new(
            url::Url::parse("http://a.test/dir/page.html").expect("url"),
            Some("text/html".into()),
            FORM.as_bytes().to_vec(),
        )
    }

    #[test]
    fn links_resolve_from_any_descendant() {
        match doc().click("#inner").expect("clicks") {
            Click::Navigate(r) => assert_eq!(r.url.as_str(), "http://a.test/dir/next.html"),
            Click::Nothing(why) => panic!("no navigation: {why}"),
        }
    }

    #[test]
    fn filled_form_submits_its_values() {
        let mut d = doc();
        d.fill("input[name=user]", "ada lovelace").expect("fill");
        d.fill("input[name=keep]", "true").expect("check");
        d.fill("input[value=l]", "on").expect("radio");
        d.fill("select", "Green").expect("select by label");
        d.fill("textarea", "new note").expect("textarea");
        let Click::Navigate(r) = d.click("#go").expect("submit") else {
            panic!("no submission");
        };
        assert_eq!(r.method, "POST");
        assert_eq!(r.url.as_str(), "http://a.test/submit");
        let body = String::from_utf8(r.body.unwrap_or_default()).expect("utf8");
        assert_eq!(
            body,
            "user=ada+lovelace&keep=yes&size=l&color=g&note=new+note&op=save"
        );
        let html = String::from_utf8(d.content()).expect("utf8");
        assert!(
            html.contains("ada lovelace") && html.contains("new note"),
            "{html}"
        );
    }

    #[test]
    fn bad_targets_are_named() {
        let mut d = doc();
        assert!(matches!(
            d.click("#missing"),
            Err(EngineError::NoMatch { .. })
        ));
        assert!(matches!(d.click("a[["), Err(EngineError::BadInput(_))));
        assert!(matches!(d.fill("a", "x"), Err(EngineError::BadInput(_))));
        assert!(matches!(
            d.fill("select", "Blue"),
            Err(EngineError::NoMatch { .. })
        ));
        assert!(matches!(d.click("textarea"), Ok(Click::Nothing(_))));
    }
}

//! The crate on collector JSON captured from real pages (fixtures/snapshots, made with the
//! REST `snapshot` action's `collector: true`): no browser, no I/O.

use action_space::space::{describe, kind_of};
use action_space::{view, Kind, Options, Snapshot};

fn load(json: &str) -> Snapshot {
    Snapshot::parse(json).expect("captured snapshot parses")
}

const LOGIN: &str = include_str!("../../fixtures/snapshots/login.json");
const WIDGETS: &str = include_str!("../../fixtures/snapshots/widgets.json");

#[test]
fn login_page_view() {
    let snap = load(LOGIN);
    let v = view(&snap, &Options::default());
    assert_eq!(v.category, "auth");
    assert!(
        v.description
            .starts_with("Page \"Sign in — Fixture shop\" (auth): 4 actions"),
        "{}",
        v.description
    );
    let md = &v.space.markdown;
    assert!(md.contains("## form: Sign in\n* I1: Email address — email input, placeholder \"you@example.com\", required"), "{md}");
    assert!(md.contains("* B1: Sign in — button"), "{md}");
    assert!(
        md.contains("* L1: Forgot your password? — link → /agent/help.html"),
        "{md}"
    );
    assert!(v.markdown.contains("# Sign in"), "{}", v.markdown);
    let kinds: Vec<Kind> = v.space.actions.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [Kind::Fill, Kind::Fill, Kind::Click, Kind::Click]);
    assert_eq!(v.space.omitted, 0);
}

#[test]
fn widgets_kinds_and_descriptions() {
    let snap = load(WIDGETS);
    let by_name = |name: &str| {
        snap.nodes
            .iter()
            .find(|n| n.name.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(kind_of(by_name("Country")), Kind::SelectDropdownOption);
    assert_eq!(kind_of(by_name("Newsletter")), Kind::Check);
    assert_eq!(kind_of(by_name("Edit me")), Kind::Fill);
    assert_eq!(kind_of(by_name("Birthday")), Kind::Fill);
    assert_eq!(kind_of(by_name("Clickable div")), Kind::Click);
    assert_eq!(describe(by_name("Terms"), ""), "Terms — checkbox, checked");
    assert!(describe(by_name("Disabled button"), "").ends_with("(disabled)"));
    assert!(describe(by_name("Inside frame"), "").ends_with("(in iframe)"));
    let country = describe(by_name("Country"), "");
    assert!(
        country.contains("options \"France\" \"Germany\" \"Japan\", selected \"France\""),
        "{country}"
    );
}

#[test]
fn caps_are_viewport_first_and_said() {
    let snap = load(WIDGETS);
    let total = snap.nodes.len();
    let below = snap.nodes.iter().filter(|n| !n.in_view).count();
    assert!(below > 0, "the fixture has off-screen actions");
    let v = view(
        &snap,
        &Options {
            max_nb_actions: 5,
            ..Default::default()
        },
    );
    assert_eq!(v.space.actions.len(), 5);
    assert!(v.space.actions.iter().all(|a| a.in_viewport));
    assert_eq!(v.space.omitted, total - 5);
    assert_eq!(v.space.omitted_below_fold, below);
    assert!(v.space.markdown.contains(&format!(
        "… {} more actions not listed ({below} off-screen)",
        total - 5
    )));
    // A tiny character budget still lists min_nb_actions.
    let v = view(
        &snap,
        &Options {
            max_nb_actions: 100,
            min_nb_actions: 3,
            max_chars: Some(10),
        },
    );
    assert_eq!(v.space.actions.len(), 3);
    // Every id stays steppable, listed or not.
    assert_eq!(v.space.all_ids.len(), total);
}

#[test]
fn ids_follow_the_prefix_scheme() {
    let snap = load(WIDGETS);
    for n in &snap.nodes {
        let prefix = &n.id[..1];
        let expected = match (n.role.as_str(), n.tag.as_str()) {
            ("link", _) => "L",
            ("checkbox" | "radio" | "switch" | "button" | "tab" | "menuitem", _) => "B",
            ("textbox" | "searchbox" | "combobox" | "listbox" | "slider" | "spinbutton", _) => "I",
            _ => "M",
        };
        assert_eq!(prefix, expected, "{} {} {}", n.id, n.role, n.name);
    }
}

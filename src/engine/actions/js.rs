//! The element helpers, each compiled with `find` (js/find.js) in scope, so one lookup serves
//! CSS selectors and agent ids alike, and `boxes` (js/boxes.js), so they agree on where an
//! element is.

macro_rules! with_find {
    ($file:literal) => {
        concat!(
            "function (a) {\n",
            include_str!("../js/find.js"),
            "\n",
            include_str!("../js/boxes.js"),
            "\nreturn (",
            include_str!($file),
            ")(a);\n}"
        )
    };
}

pub const LOCATE: &str = with_find!("../js/locate.js");
pub const FILL: &str = with_find!("../js/fill.js");
pub const SELECT: &str = with_find!("../js/select.js");
pub const READ_VALUE: &str = with_find!("../js/read_value.js");
pub const VALIDITY: &str = with_find!("../js/validity.js");
pub const ARIA_OPTION: &str = with_find!("../js/aria_option.js");
pub const FILE_INPUT: &str = with_find!("../js/file_input.js");
pub const EXISTS: &str = with_find!("../js/exists.js");
pub const QUERY: &str = with_find!("../js/query.js");

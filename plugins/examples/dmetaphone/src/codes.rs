//! The phonetic codes (no ABI types: the host's benchmark compiles this same file as a
//! built-in function to measure the plugin call overhead).

use rphonetic::DoubleMetaphone;

/// The encoder: 4-character codes, as commons-codec and most EMPIs use (a plain value,
/// cheap to make per call).
fn encoder() -> DoubleMetaphone {
    DoubleMetaphone::new(Some(4))
}

/// Double Metaphone primary code of `name`.
pub(crate) fn primary(name: &str) -> String {
    encoder().double_metaphone(name).primary()
}

/// Double Metaphone alternate code of `name`.
pub(crate) fn alternate(name: &str) -> String {
    encoder().double_metaphone(name).alternate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_group_spellings_of_one_sound() {
        assert_eq!(primary("Smith"), primary("Smyth"));
        assert_eq!(primary("Smith"), "SM0");
        assert_eq!(alternate("Smith"), "XMT");
        assert_ne!(primary("Smith"), primary("Jones"));
        assert_eq!(primary(""), "");
    }
}

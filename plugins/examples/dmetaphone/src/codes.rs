//! The phonetic codes (no ABI types: the host's benchmark compiles this same file as a
//! built-in function to measure the plugin call overhead).

use rphonetic::DoubleMetaphone;

/// The encoder: 4-character codes, as commons-codec and most EMPIs use (a plain value,
/// cheap to make per call).
fn encoder() -> DoubleMetaphone {
    DoubleMetaphone::new(Some(4))
}

/// Latin letters with diacritics folded to ASCII ("Zoë Núñez" -> "Zoe Nunez"); other
/// non-ASCII characters are dropped. Double Metaphone is defined over ASCII letters, and
/// `rphonetic` slices its input by bytes, panicking inside a multi-byte character.
fn fold(name: &str) -> std::borrow::Cow<'_, str> {
    if name.is_ascii() {
        return name.into();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let folded = match c.to_lowercase().next().unwrap_or(c) {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ď' | 'đ' | 'ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ĥ' | 'ħ' => "h",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ĵ' => "j",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'œ' => "oe",
            'ŕ' | 'ŗ' | 'ř' => "r",
            'ś' | 'ŝ' | 'ş' | 'š' => "s",
            'ß' => "ss",
            'ţ' | 'ť' | 'ŧ' => "t",
            'þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ŵ' => "w",
            'ý' | 'ÿ' | 'ŷ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => "",
        };
        out.push_str(folded);
    }
    out.into()
}

/// Double Metaphone primary code of `name`.
pub(crate) fn primary(name: &str) -> String {
    encoder().double_metaphone(&fold(name)).primary()
}

/// Double Metaphone alternate code of `name`.
pub(crate) fn alternate(name: &str) -> String {
    encoder().double_metaphone(&fold(name)).alternate()
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
        assert_eq!(primary("Zoë Núñez"), primary("Zoe Nunez"));
        assert_eq!(primary("Müller"), primary("Muller"));
        assert_eq!(alternate("日本語"), "");
    }
}

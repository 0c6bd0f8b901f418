//! The nickname table and the pure comparison logic (no ABI types: the host's benchmark
//! compiles this same file as a built-in function to measure the plugin call overhead).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Formal names and their common English diminutives. A diminutive may belong to several
/// groups ("al" is Albert, Alan and Alfred): two names match if some group holds both.
const GROUPS: &[(&str, &[&str])] = &[
    ("abigail", &["abby", "abbie", "gail"]),
    ("albert", &["al", "bert", "bertie"]),
    ("alan", &["al"]),
    ("alexander", &["alex", "alec", "sandy", "xander"]),
    ("alexandra", &["alex", "sandra", "sandy", "lexi"]),
    ("alfred", &["al", "alf", "alfie", "fred"]),
    ("andrew", &["andy", "drew"]),
    ("anthony", &["tony"]),
    ("benjamin", &["ben", "benny", "benji"]),
    ("catherine", &["cathy", "kate", "katie", "kathy", "cat"]),
    ("charles", &["charlie", "chuck", "chas"]),
    ("christopher", &["chris", "kit", "topher"]),
    ("christine", &["chris", "chrissy", "tina"]),
    ("daniel", &["dan", "danny"]),
    ("david", &["dave", "davy"]),
    ("deborah", &["deb", "debbie", "debby"]),
    ("edward", &["ed", "eddie", "ned", "ted"]),
    (
        "elizabeth",
        &["liz", "lizzie", "beth", "betty", "eliza", "libby", "bess"],
    ),
    ("frederick", &["fred", "freddie", "fritz"]),
    ("gregory", &["greg"]),
    ("henry", &["hank", "harry", "hal"]),
    ("james", &["jim", "jimmy", "jamie"]),
    ("jennifer", &["jen", "jenny"]),
    ("john", &["jack", "johnny", "jon"]),
    ("joseph", &["joe", "joey"]),
    ("katherine", &["kate", "katie", "kathy", "kay"]),
    ("margaret", &["maggie", "meg", "peggy", "marge", "greta"]),
    ("matthew", &["matt"]),
    ("michael", &["mike", "mikey", "mick"]),
    ("nicholas", &["nick", "nicky"]),
    ("patricia", &["pat", "patty", "trish"]),
    ("patrick", &["pat", "paddy"]),
    ("peter", &["pete"]),
    ("richard", &["rick", "ricky", "dick", "rich"]),
    ("robert", &["bob", "bobby", "rob", "robbie", "bert"]),
    ("samuel", &["sam", "sammy"]),
    ("stephen", &["steve", "stevie"]),
    ("susan", &["sue", "susie", "suzy"]),
    ("thomas", &["tom", "tommy"]),
    ("timothy", &["tim", "timmy"]),
    ("victoria", &["vicky", "tori"]),
    ("william", &["bill", "billy", "will", "willie", "liam"]),
];

/// Lower-case name -> indexes of the groups it belongs to (formal name included).
fn index() -> &'static HashMap<&'static str, Vec<u16>> {
    static INDEX: OnceLock<HashMap<&'static str, Vec<u16>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: HashMap<&'static str, Vec<u16>> = HashMap::new();
        for (g, (formal, nicknames)) in GROUPS.iter().enumerate() {
            let g = u16::try_from(g).expect("a small table");
            for name in std::iter::once(formal).chain(nicknames.iter()) {
                index.entry(name).or_default().push(g);
            }
        }
        index
    })
}

fn normalise(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether two first names are the same name or nicknames of one formal name (ignoring case
/// and surrounding blanks). Unknown names match only themselves.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (normalise(a), normalise(b));
    if a == b {
        return true;
    }
    let index = index();
    match (index.get(a.as_str()), index.get(b.as_str())) {
        (Some(ga), Some(gb)) => ga.iter().any(|g| gb.contains(g)),
        _ => false,
    }
}

/// The formal name of the first group holding `name` (lower-case), or the normalised name
/// itself if it is in no group.
pub(crate) fn canonical(name: &str) -> String {
    let n = normalise(name);
    match index().get(n.as_str()) {
        Some(groups) => GROUPS[usize::from(groups[0])].0.to_owned(),
        None => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_nicknames_through_shared_groups_only() {
        assert!(same_name("Bob", "ROBERT"));
        assert!(same_name("bob", "Bobby"), "two nicknames of one name");
        assert!(same_name(" Al ", "alfred") && same_name("al", "alan"));
        assert!(
            !same_name("alan", "alfred"),
            "al links them, they are not the same"
        );
        assert!(same_name("Zebedee", "zebedee"));
        assert!(!same_name("Zebedee", "Robert"));
        assert_eq!(canonical("Bobby"), "robert");
        assert_eq!(canonical("Zebedee"), "zebedee");
    }
}

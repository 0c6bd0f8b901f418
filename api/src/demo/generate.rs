//! idem's own seeded generator of synthetic person records for the demo: realistic names, birth dates,
//! addresses and phone numbers, with duplicates that carry the errors real sources make (typos,
//! missing values, swapped day and month, nicknames, moved house). Ground truth is in
//! `source_person_id` (`p<entity>-<copy>`), so matches can be checked by eye.

use std::io::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIRST: &[&str] = &[
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "lisa",
    "daniel",
    "nancy",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
    "andrew",
    "donna",
    "joshua",
    "michelle",
    "kenneth",
    "carol",
    "kevin",
    "amanda",
    "brian",
    "dorothy",
    "george",
    "melissa",
    "timothy",
    "deborah",
    "ronald",
    "stephanie",
    "edward",
    "rebecca",
    "jason",
    "sharon",
    "jeffrey",
    "laura",
    "ryan",
    "cynthia",
    "jacob",
    "kathleen",
    "gary",
    "amy",
    "nicholas",
    "angela",
    "eric",
    "shirley",
    "jonathan",
    "anna",
    "stephen",
    "brenda",
    "larry",
    "pamela",
    "justin",
    "emma",
    "scott",
    "nicole",
    "brandon",
    "helen",
];

/// Nicknames a source may use instead of the given name.
const NICKNAMES: &[(&str, &str)] = &[
    ("robert", "bob"),
    ("william", "bill"),
    ("richard", "dick"),
    ("elizabeth", "liz"),
    ("margaret", "peggy"),
    ("james", "jim"),
    ("michael", "mike"),
    ("jennifer", "jen"),
    ("christopher", "chris"),
    ("patricia", "pat"),
    ("joseph", "joe"),
    ("thomas", "tom"),
    ("daniel", "dan"),
    ("matthew", "matt"),
    ("anthony", "tony"),
    ("katherine", "kate"),
];

const LAST: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
];

const STREETS: &[&str] = &[
    "main street",
    "oak avenue",
    "maple drive",
    "cedar lane",
    "pine street",
    "elm road",
    "washington avenue",
    "lake view drive",
    "hill crescent",
    "park place",
    "river road",
    "church street",
    "mill lane",
    "sunset boulevard",
    "highland avenue",
    "forest drive",
    "spring street",
    "valley road",
    "meadow way",
];

/// (city, state, zip prefix, county).
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("springfield", "IL", "627", "sangamon"),
    ("madison", "WI", "537", "dane"),
    ("franklin", "TN", "370", "williamson"),
    ("greenville", "SC", "296", "greenville"),
    ("bristol", "CT", "060", "hartford"),
    ("clinton", "IA", "527", "clinton"),
    ("fairview", "OR", "970", "multnomah"),
    ("salem", "MA", "019", "essex"),
    ("georgetown", "TX", "786", "williamson"),
    ("riverside", "CA", "925", "riverside"),
    ("ashland", "KY", "411", "boyd"),
    ("dover", "DE", "199", "kent"),
];

const SOURCES: &[&str] = &[
    "st-mary-hospital",
    "city-clinic",
    "acme-claims",
    "county-lab",
];

/// One person's true values.
struct Entity {
    first: String,
    last: String,
    sex: &'static str,
    birth: (u32, u32, u32),
    ssn: Option<String>,
    street: String,
    place: (&'static str, &'static str, &'static str, &'static str),
    zip: String,
    phone: Option<String>,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn entity(rng: &mut StdRng) -> Entity {
    let place = *pick(rng, PLACES);
    Entity {
        first: (*pick(rng, FIRST)).to_owned(),
        last: (*pick(rng, LAST)).to_owned(),
        sex: if rng.random_bool(0.5) { "F" } else { "M" },
        birth: (
            rng.random_range(1930..2015),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
        ),
        ssn: rng.random_bool(0.7).then(|| digits(rng, 9)),
        street: format!("{} {}", rng.random_range(1..2000), pick(rng, STREETS)),
        place,
        zip: format!("{}{}", place.2, digits(rng, 2)),
        phone: rng.random_bool(0.8).then(|| digits(rng, 10)),
    }
}

/// A typo: substitute, insert, delete or transpose one character.
fn typo(rng: &mut StdRng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 2 {
        return s.to_owned();
    }
    let i = rng.random_range(0..chars.len() - 1);
    let letter = char::from(b'a' + rng.random_range(0..26u8));
    match rng.random_range(0..4) {
        0 => chars[i] = letter,
        1 => chars.insert(i, letter),
        2 => {
            chars.remove(i);
        }
        _ => chars.swap(i, i + 1),
    }
    chars.into_iter().collect()
}

/// Writes `rows` records (about 60% of entities appear once, the rest two to four times, each copy
/// from a random source with one or two errors) in a seeded order. Returns the number of entities.
pub(crate) fn write_records(
    out: &mut impl Write,
    rows: usize,
    seed: u64,
) -> std::io::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    writeln!(
        out,
        "data_source,source_person_id,first_name,last_name,sex,race,birth_date,death_date,\
         social_security_number,address,city,state,zip_code,county,phone"
    )?;
    let mut lines = Vec::with_capacity(rows);
    let mut entities = 0;
    while lines.len() < rows {
        let e = entity(&mut rng);
        let copies = match rng.random_range(0..100) {
            0..60 => 1,
            60..85 => 2,
            85..95 => 3,
            _ => 4,
        };
        for copy in 0..copies {
            if lines.len() == rows {
                break;
            }
            lines.push(record(&mut rng, &e, entities, copy));
        }
        entities += 1;
    }
    // A seeded shuffle: duplicates are not next to each other.
    for i in (1..lines.len()).rev() {
        let j = rng.random_range(0..=i);
        lines.swap(i, j);
    }
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(entities)
}

fn record(rng: &mut StdRng, e: &Entity, entity: usize, copy: usize) -> String {
    let mut first = Some(e.first.clone());
    let mut last = Some(e.last.clone());
    let (y, mut m, mut d) = e.birth;
    let mut birth_missing = false;
    let mut street = Some(e.street.clone());
    let mut zip = Some(e.zip.clone());
    let mut phone = e.phone.clone();
    let mut ssn = e.ssn.clone();
    if copy > 0 {
        for _ in 0..rng.random_range(1..=2) {
            match rng.random_range(0..100) {
                0..20 => first = first.map(|f| typo(rng, &f)),
                20..35 => last = last.map(|l| typo(rng, &l)),
                35..42 => {
                    if let Some((_, nick)) =
                        NICKNAMES.iter().find(|(n, _)| Some(*n) == first.as_deref())
                    {
                        first = Some((*nick).to_owned());
                    } else {
                        first = None;
                    }
                }
                42..50 => std::mem::swap(&mut m, &mut d),
                50..55 => birth_missing = true,
                55..68 => street = street.map(|s| typo(rng, &s)),
                68..75 => {
                    street = Some(format!(
                        "{} {}",
                        rng.random_range(1..2000),
                        pick(rng, STREETS)
                    ));
                    zip = Some(format!("{}{}", e.place.2, digits(rng, 2)));
                }
                75..83 => phone = None,
                83..90 => ssn = ssn.map(|s| typo(rng, &s)),
                90..95 => zip = zip.map(|z| typo(rng, &z)),
                _ => last = None,
            }
        }
    }
    // A swapped day and month can make an impossible date: kept, as sources send them.
    let birth = if birth_missing {
        String::new()
    } else {
        format!("{y:04}{m:02}{d:02}")
    };
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    format!(
        "{},p{entity}-{copy},{},{},{},,{birth},,{},{},{},{},{},{},{}",
        pick(rng, SOURCES),
        field(&first),
        field(&last),
        e.sex,
        field(&ssn),
        field(&street),
        e.place.0,
        e.place.1,
        field(&zip),
        e.place.3,
        field(&phone),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_has_duplicates() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let entities = write_records(&mut a, 500, 7).unwrap();
        write_records(&mut b, 500, 7).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.lines().count(), 501);
        assert!(entities < 500 && entities > 300, "{entities}");
        assert!(text.lines().skip(1).all(|l| l.split(',').count() == 15));
        let mut other = Vec::new();
        write_records(&mut other, 500, 8).unwrap();
        assert_ne!(text.as_bytes(), &other[..]);
    }
}

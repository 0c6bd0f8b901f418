//! Must-show 1: settings that use plugin functions score differently from the same settings
//! without them exactly where the plugin decides.

use std::collections::BTreeMap;

use idem_matching::{FunctionRegistry, Value};
use idem_plugin_host::Plugins;

use crate::common::{DMETAPHONE, NICKNAME, example, records, score, settings};

const ROWS: &[(&str, &str, &str)] = &[
    ("Robert", "Smith", "1980-01-01"),
    ("Bob", "Smith", "1980-01-01"),
    ("Bobby", "Smyth", "1980-01-01"),
    ("Robert", "Jones", "1975-05-05"),
    ("William", "Jones", "1975-05-05"),
    ("Bill", "Jonas", "1975-05-05"),
    ("Alan", "Smith", "1990-02-02"),
    ("Alfred", "Smith", "1990-02-02"),
    ("Kate", "Smith", "1985-03-03"),
    ("Catherine", "Smith", "1985-03-03"),
    ("Robert", "Smith", "1981-01-01"),
    ("Zebedee", "Smith", "1981-01-01"),
];

/// Calls a registered one- or two-argument text function.
fn call(registry: &FunctionRegistry, name: &str, args: &[&str]) -> Value<'static> {
    let def = registry
        .get(name)
        .unwrap_or_else(|| panic!("{name} is registered"));
    let args: Vec<Value<'_>> = args.iter().map(|a| Value::str(a)).collect();
    (def.implementation)(&args).unwrap().into_owned()
}

#[test]
fn plugin_functions_change_scores_exactly_where_they_decide() {
    let plugins = Plugins::load(None, &[example(NICKNAME), example(DMETAPHONE)]).unwrap();
    let registry = plugins.registry();
    let records = records(ROWS);

    let with = settings(
        &[
            "l.last_name = r.last_name",
            "dmetaphone(l.last_name) = dmetaphone(r.last_name)",
        ],
        &["nickname_match(\"first_name_l\", \"first_name_r\") >= 1"],
    );
    let without = settings(&["l.last_name = r.last_name"], &[]);
    let with: BTreeMap<(i64, i64), f64> = score(&with, &registry, &records)
        .unwrap()
        .into_iter()
        .map(|p| ((p.id_l, p.id_r), p.match_weight))
        .collect();
    // The plugin-free settings compile against the built-ins alone.
    let without: BTreeMap<(i64, i64), f64> =
        score(&without, &FunctionRegistry::with_builtins(), &records)
            .unwrap()
            .into_iter()
            .map(|p| ((p.id_l, p.id_r), p.match_weight))
            .collect();

    let row = |id: i64| ROWS[id as usize - 1];
    let mut extra_pairs = Vec::new();
    let mut changed = Vec::new();
    for (&(l, r), &weight) in &with {
        let (fl, ll, _) = row(l);
        let (fr, lr, _) = row(r);
        // Blocking: the dmetaphone rule adds exactly the pairs whose codes agree while the
        // names differ.
        let same_code =
            call(&registry, "dmetaphone", &[ll]) == call(&registry, "dmetaphone", &[lr]);
        match without.get(&(l, r)) {
            None => {
                assert!(
                    same_code && ll != lr,
                    "pair {l},{r} came from the plugin rule"
                );
                extra_pairs.push((l, r));
            }
            Some(&base) => {
                // Comparison: the nickname level fires for different names the plugin calls
                // the same; every other pair scores bit for bit as without the plugin.
                let nick = call(&registry, "nickname_match", &[fl, fr]) == Value::Float(1.0);
                if nick && fl != fr {
                    assert!(weight > base, "pair {l},{r}: nickname level outweighs ELSE");
                    changed.push((l, r));
                } else {
                    assert_eq!(weight.to_bits(), base.to_bits(), "pair {l},{r}");
                }
            }
        }
    }
    for pair in without.keys() {
        assert!(
            with.contains_key(pair),
            "{pair:?}: plugin settings lose no pair"
        );
    }
    for (l, r) in &extra_pairs {
        let same_code = call(&registry, "dmetaphone", &[row(*l).1])
            == call(&registry, "dmetaphone", &[row(*r).1]);
        assert!(same_code);
    }
    // Smith/Smyth and Jones/Jonas sound alike; Smith/Smith was a pair already.
    assert!(extra_pairs.contains(&(1, 3)) && extra_pairs.contains(&(4, 6)));
    assert!(extra_pairs.contains(&(2, 3)) && !extra_pairs.contains(&(1, 2)));
    // Robert/Bob, Bob/Robert (another Robert), Kate/Catherine are nicknames; Alan/Alfred,
    // Robert/Zebedee are not; Robert/Robert is an exact match either way.
    assert!(changed.contains(&(1, 2)) && changed.contains(&(2, 11)));
    assert!(changed.contains(&(9, 10)));
    assert!(!changed.contains(&(7, 8)) && !changed.contains(&(11, 12)));
    assert!(!changed.contains(&(1, 11)));
    assert!(changed.len() >= 3, "{changed:?}");
}

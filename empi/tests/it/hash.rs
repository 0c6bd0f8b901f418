//! The SQL content hash equals the Rust one, and rows that collide in the reference are both kept.

use idem_empi::{RECORD_FIELDS, content_hash};
use sqlx::PgPool;

use crate::common::{job, migrate, person};

/// Rows (15 fields each) that exercise NULL vs empty, separators and non-ASCII text.
fn rows() -> Vec<[Option<&'static str>; 15]> {
    let base: [Option<&str>; 15] = [
        Some("ds"),
        Some("a1"),
        Some("José"),
        Some("O'Brien"),
        Some("F"),
        None,
        Some("1980-01-02"),
        None,
        Some("123-45-6789"),
        Some("1 Main St, Apt \"2\""),
        Some("Zürich"),
        Some("NY"),
        Some("01234"),
        Some(""),
        Some("555-0100"),
    ];
    let mut rows = vec![base];
    let mut all_null = [None; 15];
    all_null[0] = Some("ds");
    all_null[1] = Some("a1");
    rows.push(all_null);
    let mut first = all_null;
    first[2] = Some("x");
    rows.push(first);
    let mut last = all_null;
    last[3] = Some("x");
    rows.push(last);
    let mut piped = all_null;
    piped[2] = Some("x|y");
    rows.push(piped);
    let mut split = all_null;
    split[2] = Some("x");
    split[3] = Some("y");
    rows.push(split);
    let mut empty = all_null;
    empty[2] = Some("");
    rows.push(empty);
    let mut emoji = all_null;
    emoji[2] = Some("🙂\u{0301}\n\t");
    rows.push(emoji);
    rows
}

const SQL_HASH: &str = "SELECT record_content_hash($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                        $13, $14, $15)";

#[sqlx::test(migrations = false)]
async fn sql_hash_equals_rust_hash(pool: PgPool) {
    migrate(&pool).await;
    assert_eq!(RECORD_FIELDS.len(), 15);
    for row in rows() {
        let mut query = sqlx::query_scalar::<_, Vec<u8>>(SQL_HASH);
        for field in row {
            query = query.bind(field);
        }
        let sql = query.fetch_one(&pool).await.expect("hash");
        assert_eq!(sql.as_slice(), content_hash(&row).as_slice(), "{row:?}");
    }
}

#[sqlx::test(migrations = false)]
async fn rows_colliding_under_concat_ws_are_both_stored(pool: PgPool) {
    migrate(&pool).await;
    let job = job(&pool).await;
    let rows = rows();
    // (x, NULL) vs (NULL, x) and "x|y" vs ("x", "y"): equal under the reference's hash.
    for (a, b) in [(&rows[2], &rows[3]), (&rows[4], &rows[5])] {
        let reference_hash = |row: &[Option<&'static str>; 15]| {
            let mut q = sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT sha256(convert_to(concat_ws('|', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 $12, $13, $14, $15), 'UTF8'))",
            );
            for field in row {
                q = q.bind(*field);
            }
            q.fetch_one(&pool)
        };
        assert_eq!(
            reference_hash(a).await.expect("hash"),
            reference_hash(b).await.expect("hash"),
            "the reference's hash collides"
        );
        for row in [a, b] {
            let p = person(&pool, job, 1).await;
            sqlx::query(
                "INSERT INTO person_records (created, job_id, person_id, person_updated, sha256, \
                 data_source, source_person_id, first_name, last_name) \
                 VALUES (now(), $1, $2, now(), $3, $4, $5, $6, $7)",
            )
            .bind(job)
            .bind(p)
            .bind(content_hash(row).as_slice())
            .bind(row[0])
            .bind(row[1])
            .bind(row[2])
            .bind(row[3])
            .execute(&pool)
            .await
            .expect("both rows are stored");
        }
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM person_records")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 4);
}

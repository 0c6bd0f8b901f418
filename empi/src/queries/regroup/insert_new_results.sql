-- The job's new results, each in its new group, with an `add-result` action each, stored in pair order.
-- Each pair's staged row is looked up through the staging table's primary key, in pair order: the only sort is of
-- the narrow pairs, none of the wide staged rows (their `data`), and no hash table of them is built. (`LIMIT 1`
-- keeps the lookup a lookup; the primary key makes it exact.) The rows are written in pair order, which is k's:
-- ordered by the pair (the order the window sorted by, which the lookups keep), not by k, which the planner cannot
-- tell is the same order and sorted the wide rows again for (measured on a million records: an external sort of
-- 294 MB, 2.5 s). The ids of results and actions are drawn from their sequences, or on the bulk path are the k-th of
-- blocks reserved for them (k, the pair's place in pair order, from 1; $7 and $8, not NULL there, are the first id of
-- each block less one).
WITH inserted AS (
    INSERT INTO prediction_results (
        id, created, job_id, match_group_id, match_group_updated, match_weight, match_probability,
        person_record_l_id, person_record_r_id, data
    ) OVERRIDING SYSTEM VALUE
    SELECT CASE
               WHEN $7::bigint IS NULL
                   THEN nextval((SELECT pg_get_serial_sequence('prediction_results', 'id'))::regclass)
               ELSE $7 + t.k
           END,
           $2, $1, t.g, $2, s.match_weight, s.match_probability, s.person_record_l_id, s.person_record_r_id, s.data
    FROM (
        SELECT u.l, u.r, u.g, row_number() OVER (ORDER BY u.l, u.r) AS k
        FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS u(l, r, g)
    ) AS t
    CROSS JOIN LATERAL (
        SELECT s.match_weight, s.match_probability, s.person_record_l_id, s.person_record_r_id, s.data
        FROM prediction_result_staging s
        WHERE s.job_id = $1 AND s.person_record_l_id = t.l AND s.person_record_r_id = t.r
        LIMIT 1
    ) AS s
    ORDER BY t.l, t.r
    RETURNING id, match_group_id
)
INSERT INTO match_group_actions (id, match_event_id, match_group_id, prediction_result_id, type) OVERRIDING SYSTEM VALUE
SELECT CASE
           WHEN $8::bigint IS NULL
               THEN nextval((SELECT pg_get_serial_sequence('match_group_actions', 'id'))::regclass)
           ELSE $8 + (id - $7)
       END,
       $6, match_group_id, id, 'add-result'
FROM inserted
ORDER BY id

-- The job's new results, each in its new group, with an `add-result` action each, stored in pair order.
-- Each pair's staged row is looked up through the staging table's primary key, in pair order: the only sort is of
-- the narrow pairs, none of the wide staged rows (their `data`), and no hash table of them is built. (`LIMIT 1`
-- keeps the lookup a lookup; the primary key makes it exact.)
WITH inserted AS (
    INSERT INTO prediction_results (
        created, job_id, match_group_id, match_group_updated, match_weight, match_probability,
        person_record_l_id, person_record_r_id, data
    )
    SELECT $2, $1, t.g, $2, s.match_weight, s.match_probability, s.person_record_l_id, s.person_record_r_id,
           s.data
    FROM (
        SELECT u.l, u.r, u.g FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS u(l, r, g) ORDER BY u.l, u.r
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
INSERT INTO match_group_actions (match_event_id, match_group_id, prediction_result_id, type)
SELECT $6, match_group_id, id, 'add-result' FROM inserted ORDER BY id

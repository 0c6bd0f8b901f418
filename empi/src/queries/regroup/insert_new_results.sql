-- The job's new results, each in its new group, with an `add-result` action each.
WITH placed AS (
    SELECT t.l, t.r, t.g, t.ord
    FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS t(l, r, g, ord)
), inserted AS (
    INSERT INTO prediction_results (
        created, job_id, match_group_id, match_group_updated, match_weight, match_probability,
        person_record_l_id, person_record_r_id, data
    )
    SELECT $2, $1, p.g, $2, s.match_weight, s.match_probability, s.person_record_l_id, s.person_record_r_id,
           s.data
    FROM placed p
    JOIN prediction_result_staging s
      ON s.job_id = $1 AND s.person_record_l_id = p.l AND s.person_record_r_id = p.r
    ORDER BY p.ord
    RETURNING id, match_group_id
)
INSERT INTO match_group_actions (match_event_id, match_group_id, prediction_result_id, type)
SELECT $6, match_group_id, id, 'add-result' FROM inserted ORDER BY id

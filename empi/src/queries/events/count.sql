-- The number of events GET /match-events lists for the filters $1..$4 of page.sql.
SELECT count(*)
FROM match_events e
WHERE ($1::text IS NULL OR e.type = $1)
    AND ($2::bigint IS NULL OR e.job_id = $2)
    AND ($3::uuid IS NULL OR EXISTS (
        SELECT 1
        FROM person_actions a
        JOIN persons p ON p.id = a.person_id
        WHERE a.match_event_id = e.id AND p.uuid = $3
    ))
    AND ($4::bigint IS NULL
        OR EXISTS (SELECT 1 FROM person_actions a WHERE a.match_event_id = e.id AND a.match_group_id = $4)
        OR EXISTS (
            SELECT 1 FROM match_group_actions ga WHERE ga.match_event_id = e.id AND ga.match_group_id = $4
        ))

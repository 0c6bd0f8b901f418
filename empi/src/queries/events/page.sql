-- One page of GET /match-events, newest first: events of type $1, of job $2, that acted on the person with
-- uuid $3, or on the group $4 (each NULL: any). $5 = LIMIT, $6 = OFFSET. The action counts are read for the
-- page's events only, from person_actions_event (an index-only count).
WITH page AS (
    SELECT e.id, e.created, e.type, e.job_id
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
    ORDER BY e.id DESC
    LIMIT $5 OFFSET $6
)
SELECT
    page.id, page.created, page.type, page.job_id,
    counts.add_record, counts.remove_record, counts.review
FROM page
CROSS JOIN LATERAL (
    SELECT
        count(*) FILTER (WHERE a.type = 'add-record') AS add_record,
        count(*) FILTER (WHERE a.type = 'remove-record') AS remove_record,
        count(*) FILTER (WHERE a.type = 'review') AS review
    FROM person_actions a
    WHERE a.match_event_id = page.id
) AS counts
ORDER BY page.id DESC

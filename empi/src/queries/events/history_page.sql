-- One page of a person's history (person $1, internal id), newest first: the events that acted on it.
-- $2 = LIMIT, $3 = OFFSET.
SELECT e.id, e.created, e.type, e.job_id
FROM (
    SELECT DISTINCT a.match_event_id AS id
    FROM person_actions a
    WHERE a.person_id = $1
    ORDER BY a.match_event_id DESC
    LIMIT $2 OFFSET $3
) AS page
JOIN match_events e ON e.id = page.id
ORDER BY e.id DESC
